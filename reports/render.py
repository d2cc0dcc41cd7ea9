"""Render a report's blocks to Markdown and to one self-contained HTML page.

A block is `(kind, body)`: ("h", (level, text)), ("p", text), ("note", text), ("list", items),
("table", DataFrame) or ("img", (figure name, caption)).
"""

from __future__ import annotations

import base64
import html
from typing import Any

Block = tuple[str, Any]


def markdown(blocks: list[Block]) -> str:
    """GitHub-flavoured Markdown of the blocks (figures linked as figures/NAME.png)."""
    lines: list[str] = []
    for kind, body in blocks:
        if kind == "h":
            lines.append(f"{'#' * body[0]} {body[1]}")
        elif kind == "p":
            lines.append(str(body))
        elif kind == "note":
            lines.append(f"> **Note:** {body}")
        elif kind == "list":
            lines.extend(f"- {item}" for item in body)
        elif kind == "table":
            cells = [[str(v).replace("|", "\\|").replace("\n", " ") for v in row]
                     for row in [list(body.columns), *body.itertuples(index=False)]]
            lines.append("| " + " | ".join(cells[0]) + " |")
            lines.append("|" + "|".join("---" for _ in cells[0]) + "|")
            lines.extend("| " + " | ".join(row) + " |" for row in cells[1:])
        elif kind == "img":
            lines.append(f"![{body[1]}](figures/{body[0]}.png)\n\n*{body[1]}* "
                         f"([SVG](figures/{body[0]}.svg))")
        lines.append("")
    return "\n".join(lines)


CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
       "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
       "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}th{background:#f3f3f3}"
       ".note{background:#fff6d5;border-left:4px solid #e0b000;padding:.5em 1em}"
       "img{max-width:100%}figure{margin:1.5em 0}figcaption{font-size:.9em;color:#555}")


def html_page(blocks: list[Block], images: dict[str, bytes], title: str) -> str:
    """One self-contained HTML page of the blocks: CSS inline, PNG `images` embedded."""
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}"
             f"</title><style>{CSS}</style></head><body>"]
    for kind, body in blocks:
        if kind == "h":
            parts.append(f"<h{body[0]}>{esc(body[1])}</h{body[0]}>")
        elif kind == "p":
            parts.append(f"<p>{esc(str(body))}</p>")
        elif kind == "note":
            parts.append(f"<div class='note'><strong>Note:</strong> {esc(str(body))}</div>")
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{esc(str(i))}</li>" for i in body) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{esc(str(c))}</th>" for c in body.columns)
            rows = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>"
                           for row in body.itertuples(index=False))
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(images[body[0]]).decode("ascii")
            parts.append(f"<figure><img alt='{esc(body[1])}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{esc(body[1])}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
