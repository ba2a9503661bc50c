"""A small reader of the report page's structure (stdlib html.parser), for the HTML tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Node:
    """An element of interest: its tag, attributes and text content."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Node] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


class PageReader(HTMLParser):
    """Collects every element as a tree, keeping attribute values unescaped."""

    VOID = frozenset({"meta", "input", "br", "img", "link", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.all: list[Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.all.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for node in self.stack[1:]:
            node.text += data

    def find(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.all if n.tag == tag and (cls is None or cls in n.classes)]


def read_page(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    reader.close()
    return reader


def matrix_rows(page: PageReader) -> list[Node]:
    """The scenario rows (``tr.row``) of the matrix."""
    return page.find("tr", "row")


def cells(row: Node) -> list[Node]:
    """The target cells of a matrix row."""
    return [c for c in row.children if c.tag == "td" and "cell" in c.classes]


def descendants(node: Node) -> Iterator[Node]:
    """*node* and every element inside it, in document order."""
    yield node
    for child in node.children:
        yield from descendants(child)
