"""What the docker works on: the document, its source and hint layers, the mode and the
reference. GUI thread; Krita objects are looked up through kritadoc.py by key each time, so
a closed document or a deleted layer is simply not found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chromahint_client import protocol as P

from . import kritadoc, reference_files

if TYPE_CHECKING:  # Krita's types, for annotations; Krita is called through kritadoc
    from krita import Document, Node

ReferenceKey = tuple[str, str]  # ("document" | "layer", key) or ("file", path)


class Choices:
    def __init__(self) -> None:
        self.mode = P.Mode.PHOTO
        self.doc_key: str | None = None
        self.source_key: str | None = None
        self.source_pinned = False  # the artist picked it (else it follows the mode's default)
        self.hints_key: str | None = None
        self.reference: ReferenceKey | None = None

    def document(self) -> Document | None:
        """The document the docker follows, else Krita's active one."""
        return kritadoc.find_document(self.doc_key) or kritadoc.active_document()

    def set_document(self, doc: Document | None) -> bool:
        """Follow `doc`; True when that is another document (every choice starts afresh)."""
        key = kritadoc.document_key(doc) if doc is not None else None
        if key == self.doc_key:
            return False
        self.doc_key = key
        self.source_key = self.hints_key = None
        self.source_pinned = False
        self.reference = None
        return True

    def layers(self) -> list[tuple[str, str]]:
        """(id, name) of the document's paint layers, topmost first."""
        doc = self.document()
        return kritadoc.layer_rows(doc) if doc is not None else []

    def source(self) -> Node | None:
        node, self.source_key = self._follow(
            self.source_key, lambda doc: kritadoc.default_source(doc, self.mode)
        )
        return node

    def hint_layer(self) -> Node | None:
        node, self.hints_key = self._follow(
            self.hints_key, lambda doc: kritadoc.find_named(doc, kritadoc.HINTS_NAME)
        )
        return node

    def _follow(
        self, key: str | None, fallback: Callable[[Document], Node | None]
    ) -> tuple[Node | None, str | None]:
        """The document's layer with id `key`, else `fallback(doc)`, and the key to keep:
        the fallback's id when it was needed, else `key` unchanged (also with no document)."""
        doc = self.document()
        if doc is None:
            return None, key
        node = kritadoc.find_node(doc, key)
        if node is None:
            node = fallback(doc)
            key = kritadoc.node_id(node)
        return node, key

    def hint_fingerprint(self) -> tuple:
        """The hint layer's content identity, () without one (see kritadoc.fingerprint)."""
        return kritadoc.fingerprint(self.hint_layer())

    def source_id(self) -> str | None:
        return kritadoc.node_id(self.source())

    def hint_layer_id(self) -> str | None:
        return kritadoc.node_id(self.hint_layer())

    def set_source(self, node_id: str | None) -> bool:
        """Pin the source layer (None: follow the mode's default); True when it changed."""
        self.source_pinned = node_id is not None
        if node_id == self.source_key:
            return False
        self.source_key = node_id
        return True

    def set_hint_layer(self, node_id: str | None) -> bool:
        if node_id == self.hints_key:
            return False
        self.hints_key = node_id
        return True

    def set_mode(self, mode: P.Mode) -> bool:
        if mode == self.mode:
            return False
        self.mode = mode
        if not self.source_pinned:
            self.source_key = None  # the default differs: line art prefers a line-art layer
        return True

    def reference_choices(self) -> list[tuple[str, ReferenceKey | None]]:
        """(label, key) for the reference picker: other open documents, then layers, then
        the picture file in use (chosen or recommended)."""
        choices: list[tuple[str, ReferenceKey | None]] = [("No reference", None)]
        for key, name in kritadoc.other_documents(self.document()):
            choices.append((f"Document: {name}", ("document", key)))
        for node_id, name in self.layers():
            choices.append((f"Layer: {name}", ("layer", node_id)))
        if self.reference is not None and self.reference[0] == "file":
            choices.append((f"File: {reference_files.label(self.reference[1])}", self.reference))
        return choices

    def reference_image(self, doc: Document) -> tuple[P.Image | None, bool]:
        """The reference's picture for the engine, and whether the reference was dropped
        because its document or layer is gone."""
        if self.reference is None:
            return None, False
        kind, key = self.reference
        if kind == "file":
            image = reference_files.file_image(key)
        else:
            docs = kind == "document"
            found = kritadoc.find_document(key) if docs else kritadoc.find_node(doc, key)
            image = None if found is None else kritadoc.thumbnail_image(found)
        if image is None:  # closed, deleted, or a file no longer readable
            self.reference = None
        return image, image is None
