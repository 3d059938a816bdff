"""ui layer of XRayDesk."""
