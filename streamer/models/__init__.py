"""Networks, defined once: the runtime, training and export all import them from here."""
