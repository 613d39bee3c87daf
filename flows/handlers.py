"""Custom handlers for the example flows in this directory.

FlowDirectory loads this module and registers every ``@handler`` defined here; saving the
file reloads them.
"""

from __future__ import annotations

from typing import Any

from flowmonkey import HandlerParams, Result, StepResult, handler

# Test cards, as payment providers document them: one is always declined, one fails
# twice with a transient error and then goes through, so retries show in the history.
DECLINED_CARD = "4000000000000002"
FLAKY_CARD = "4000000000000119"


@handler("greet")
async def greet(params: HandlerParams) -> StepResult:
    """Say hello to ``input.name``."""
    name = (params.input or {}).get("name") or "stranger"
    return Result.success({"message": f"Hello, {name}!"})


@handler("validate-order")
async def validate_order(params: HandlerParams) -> StepResult:
    """Check an order has items with positive quantities and a card; compute the total."""
    order: dict[str, Any] = params.input or {}
    items = order.get("items") or []
    problems = [
        f"item {i}: quantity must be positive" for i, item in enumerate(items) if item.get("qty", 0) <= 0
    ]
    if not items:
        problems.append("the order has no items")
    if not order.get("card"):
        problems.append("the order has no card")
    if problems:
        return Result.failure("INVALID_ORDER", "; ".join(problems), {"problems": problems})
    total = round(sum(item.get("qty", 0) * item.get("price", 0) for item in items), 2)
    return Result.success({"total": total, "shipping": order.get("shipping", "standard")})


@handler("charge-card")
async def charge_card(params: HandlerParams) -> StepResult:
    """Pretend to charge the card; test cards decline or fail transiently."""
    card = str(params.input.get("card", ""))
    if card == DECLINED_CARD:
        return Result.failure("CARD_DECLINED", "the card was declined")
    if card == FLAKY_CARD and params.attempt < 3:
        return Result.failure("PAYMENT_UNAVAILABLE", f"the processor is busy (attempt {params.attempt})")
    return Result.success({"charged": params.input.get("total"), "reference": params.idempotency_key})


@handler("build-report")
async def build_report(params: HandlerParams) -> StepResult:
    """Summarise yesterday's numbers (static here; a real one would query a database)."""
    return Result.success({"date": params.now.date().isoformat(), "orders": 42, "revenue": 1234.5})


# Credit limits by customer for fulfil-order's checks; an unknown customer gets 500.
CREDIT_LIMITS = {"c-gold": 10_000.0, "c-new": 100.0}


@handler("check-credit")
async def check_credit(params: HandlerParams) -> StepResult:
    """The customer's credit limit must cover the order's total."""
    customer, total = params.input.get("customer") or "", float(params.input.get("total") or 0)
    limit = CREDIT_LIMITS.get(customer, 500.0)
    if total > limit:
        return Result.failure("CREDIT_DENIED", f"{total:g} EUR is over {customer}'s limit of {limit:g} EUR")
    return Result.success({"customer": customer, "limit": limit})


@handler("score-fraud")
async def score_fraud(params: HandlerParams) -> StepResult:
    """A risk score from the order's total (a real one would ask a service)."""
    total = float(params.input.get("total") or 0)
    return Result.success({"risk": round(min(total / 10_000, 1.0), 3)})


@handler("ship-item")
async def ship_item(params: HandlerParams) -> StepResult:
    """Hand one item to the carrier; the tracking number names the item's place."""
    item, index = params.input["item"], params.input["index"]
    return Result.success({"sku": item.get("sku"), "tracking": f"TRK-{index:03d}-{item.get('sku')}"})
