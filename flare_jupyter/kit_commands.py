"""``%flare check_kit``: check a startup kit before connecting (registered into ``commands.OPERATIONS``)."""

from __future__ import annotations

from .commands import _arg, operation


@operation("check_kit", group="connection", needs_session=False)
@_arg(
    "kit", nargs="?", default=None, help="admin startup kit folder (default: $FLARE_STARTUP_KIT or the embedded system)"
)
@_arg(
    "--insecure",
    action="store_true",
    help="check for an insecure session (certificates required only where NVFlare reads them for one)",
)
def _check_kit(_, args):
    """Check a startup kit without connecting: files, fed_admin.json, certificates, key, identity (a DataFrame)."""
    from . import check_kit

    return check_kit(args.kit, secure=not args.insecure)
