#!/bin/sh
# /usr/bin/xraydesk: starts the bundled app in /opt/xraydesk with the arguments given
# (image files to open, or a sub-command: self-test, predict, evaluate; --help lists them).
exec /opt/xraydesk/XRayDesk "$@"
