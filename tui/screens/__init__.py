"""The console's screens: the main one and the modals pushed over it."""
