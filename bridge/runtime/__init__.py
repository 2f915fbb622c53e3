"""The wiring: settings from the environment, and the service that builds every part from them."""
