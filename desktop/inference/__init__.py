"""inference layer of XRayDesk."""
