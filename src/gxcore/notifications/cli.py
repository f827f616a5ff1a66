"""`gx dev mailbox`: read what the development senders delivered instead of SMTP and SMS."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from gxcore.cli_common import DataDir, console, settings
from gxcore.notifications.senders import read_mailbox


def mailbox_command(
    to: Annotated[str | None, typer.Option("--to", help="Only messages to this address.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the development mailbox (emails and SMS sent without SMTP), newest last."""
    cfg = settings(data_dir)
    messages = read_mailbox(cfg.mailbox_file, to=to)
    if not messages:
        console.print(f"no messages in {cfg.mailbox_file}" + (f" to {to}" if to else ""))
        return
    for m in messages:
        title = f"{m['channel']} to {m['to']}" + (f": {m['subject']}" if m.get("subject") else "")
        # Text(): a message is shown as written, never read as Rich markup.
        panel = Panel(Text(m["text"]), title=Text(title), subtitle=m["time"], title_align="left")
        console.print(panel)
