"""Scrapy's ``-h`` layout, without turning an option's wrapped help into a heading.

Scrapy's formatter title-cases and underlines every help fragment that ends in a colon, and
argparse joins an option's help lines through the same code. Help wrapped right after a colon
(``(default:``) came out as ``Assumed Share Of Photos With People Tagged (Default`` over a
line of ``====``. Here headings are looked for only outside an option's own lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.commands import ScrapyHelpFormatter

if TYPE_CHECKING:
    import argparse


class HelpFormatter(ScrapyHelpFormatter):
    _in_action = 0  # depth of _format_action calls under way (an option may have sub-options)

    def _format_action(self, action: argparse.Action) -> str:
        self._in_action += 1
        try:
            return super()._format_action(action)
        finally:
            self._in_action -= 1

    def format_part_strings(self, part_strings: list[str]) -> list[str]:
        """Scrapy's headings and underlines, except within one option's help."""
        if self._in_action:
            return part_strings
        return super().format_part_strings(part_strings)
