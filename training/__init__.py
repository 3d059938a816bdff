"""Training code for XRayDesk's models (development only; the app never imports it)."""
