"""Training of the RFG generator with its global/local integrators and calibration net."""
