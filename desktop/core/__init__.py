"""core layer of XRayDesk."""
