"""FHIR R4 XML <-> the JSON dict every other module works on (http://hl7.org/fhir/R4/xml.html).

The conversion is mechanical once the element definitions are known: element order, which elements
repeat, the JSON type of each primitive. These come from the R4 StructureDefinitions
(definitions/xml_elements.json, scripts/extract_xml_definitions.py), so all 146 R4 resource types
convert, including those the R4B models dropped. The rules:

- the resource type is the element name; every element is in the namespace http://hl7.org/fhir;
- a primitive is `<name value="..."/>`; its JSON `_name` (id, extension) becomes the element's `id`
  attribute and `extension` children; repeating primitives pair `name[i]` with `_name[i]`;
- Element.id and Extension.url are attributes; Resource.id is an element;
- contained resources and Bundle.entry.resource wrap the resource: `<resource><Patient>...`;
- Narrative.div is XHTML (namespace http://www.w3.org/1999/xhtml), a string in JSON;
- JSON numbers and booleans come from the primitive's type (decimal, integer, boolean...).

Decimals keep their text both ways (resources.decimals): a FhirDecimal is written as it came ("1.50"
stays "1.50"), and an XML decimal is read as a FhirDecimal of the attribute's text.
"""
from __future__ import annotations

import copy
import json
import re
from functools import lru_cache

from lxml import etree

from resources import decimals, definitions
from resources.types import R4_RESOURCE_TYPES

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_FHIR = "{%s}" % FHIR_NS
_XHTML = "{%s}" % XHTML_NS
_INTEGERS = {"integer", "positiveInt", "unsignedInt"}
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_DECIMAL_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class XmlError(ValueError):
    """The XML is not well-formed or not FHIR, or a resource cannot be written as XML; `expression` is the element."""

    def __init__(self, message: str, expression: str | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression


def decimal_text(json_text: str | bytes) -> dict:
    """JSON read keeping every non-integer number's text (for rendering stored JSON as XML)."""
    return decimals.loads(json_text)


@lru_cache(maxsize=1)
def _tables() -> tuple[frozenset, dict]:
    data = definitions.load("xml_elements.json")
    elements = {
        key: {name: (kind, repeats) for name, kind, repeats in children} for key, children in data["elements"].items()
    }
    order = {key: [name for name, _, _ in children] for key, children in data["elements"].items()}
    position = {key: {name: i for i, name in enumerate(names)} for key, names in order.items()}
    return frozenset(data["primitives"]), {"by_name": elements, "order": order, "position": position}


def _position(key: str) -> dict:
    return _tables()[1]["position"][key]


def _children(key: str) -> dict:
    return _tables()[1]["by_name"][key]


def _order(key: str) -> list[str]:
    return _tables()[1]["order"][key]


def _is_primitive(kind: str) -> bool:
    return kind in _tables()[0]


def element_kinds(key: str) -> dict[str, tuple[str, bool]] | None:
    """The children of a resource type, datatype or backbone element ("Observation.referenceRange"):
    JSON name -> (type, repeats); the type is "@" for an XML attribute (Element.id, Extension.url)."""
    return _tables()[1]["by_name"].get(key)


def primitive_types() -> frozenset[str]:
    return _tables()[0]


# --- JSON -> XML ---------------------------------------------------------------------------------
def to_xml(resource: dict, pretty: bool = False) -> str:
    """The resource as a FHIR XML document (no XML declaration); XmlError if it is not valid FHIR JSON."""
    resource_type = resource.get("resourceType")
    if resource_type not in R4_RESOURCE_TYPES:
        raise XmlError(f"'{resource_type}' is not an R4 resource type", "resourceType")
    out: list[str] = []
    _write_resource(out, resource, resource_type, f' xmlns="{FHIR_NS}"', "\n" if pretty else "", "  " if pretty else "")
    return "".join(out)


def _write_resource(
    out: list[str], resource: dict, path: str, namespace: str, newline: str, indent: str, depth: int = 0
) -> None:
    resource_type = resource.get("resourceType")
    if resource_type not in R4_RESOURCE_TYPES:
        raise XmlError(f"'{resource_type}' is not an R4 resource type", f"{path}.resourceType")
    pad = newline + indent * depth
    out.append(f"{pad if depth else ''}<{resource_type}{namespace}>")
    _write_content(out, resource, resource_type, path, newline, indent, depth + 1)
    out.append(f"{pad}</{resource_type}>")


def _write_content(out: list[str], value: dict, key: str, path: str, newline: str, indent: str, depth: int) -> None:
    """The children of a resource, datatype or backbone element (attributes are written by the caller)."""
    children = _children(key)
    for name in value:
        base = name[1:] if name.startswith("_") else name
        if base not in children and name != "resourceType":
            raise XmlError(f"Unknown element '{name}' in {key}", f"{path}.{name}")
    pad = newline + indent * depth
    for name in _order(key):
        kind, repeats = children[name]
        if kind == "@" or (name not in value and f"_{name}" not in value):
            continue
        items, extras = value.get(name), value.get(f"_{name}")
        if repeats:
            if not isinstance(items if items is not None else [], list) or not isinstance(
                extras if extras is not None else [], list
            ):
                raise XmlError(f"'{name}' must be an array", f"{path}.{name}")
            count = max(len(items or ()), len(extras or ()))
            pairs = [
                (
                    (items or [])[i] if i < len(items or ()) else None,
                    (extras or [])[i] if i < len(extras or ()) else None,
                )
                for i in range(count)
            ]
            paths = [f"{path}.{name}[{i}]" for i in range(count)]
        else:
            pairs, paths = [(items, extras)], [f"{path}.{name}"]
        for (item, extra), item_path in zip(pairs, paths):
            if _is_primitive(kind):
                _write_primitive(out, name, kind, item, extra, item_path, pad, newline, indent, depth)
            elif kind == "Resource":
                if not isinstance(item, dict):
                    raise XmlError(f"'{name}' must be a resource", item_path)
                out.append(f"{pad}<{name}>")
                _write_resource(out, item, item_path, "", newline, indent, depth + 1)
                out.append(f"{pad}</{name}>")
            else:
                if not isinstance(item, dict):
                    raise XmlError(f"'{name}' must be an object", item_path)
                out.append(f"{pad}<{name}{_attributes(item, kind)}")
                before = len(out)
                out.append(">")
                _write_content(out, item, kind, item_path, newline, indent, depth + 1)
                if len(out) == before + 1:
                    out[-1] = "/>"
                else:
                    out.append(f"{pad}</{name}>")


def _attributes(value: dict, key: str) -> str:
    children = _children(key)
    return "".join(
        f' {name}="{_escape(str(value[name]))}"' for name in _order(key) if children[name][0] == "@" and name in value
    )


def _write_primitive(out, name, kind, item, extra, path, pad, newline, indent, depth) -> None:
    if kind == "xhtml":
        out.append(pad + _xhtml(item, path))
        return
    if extra is not None and not isinstance(extra, dict):
        raise XmlError(f"'_{name}' must be an object", path)
    attributes = ""
    if extra and "id" in extra:
        attributes += f' id="{_escape(str(extra["id"]))}"'
    if item is not None:
        if isinstance(item, (dict, list)):
            raise XmlError(f"'{name}' must be a primitive value", path)
        attributes += f' value="{_escape(_primitive_text(item))}"'
    extensions = (extra or {}).get("extension")
    if not extensions:
        out.append(f"{pad}<{name}{attributes}/>")
        return
    out.append(f"{pad}<{name}{attributes}>")
    _write_content(out, {"extension": extensions}, "Extension", path, newline, indent, depth + 1)
    out.append(f"{pad}</{name}>")


def _primitive_text(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, decimals.FhirDecimal):
        return value.text
    if isinstance(value, float):
        return json.dumps(value)
    return str(value)


def _escape(text: str) -> str:
    # Newlines and tabs as character references: attribute-value normalisation would turn them into spaces.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def _xhtml(div, path: str) -> str:
    if not isinstance(div, str):
        raise XmlError("The narrative div must be a string of XHTML", path)
    try:
        element = etree.fromstring(div.encode("utf-8"), _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"The narrative div is not well-formed XHTML: {exc}", path) from None
    if element.tag != _XHTML + "div":
        if element.tag != "div":
            raise XmlError("The narrative must be an XHTML <div>", path)
        for node in element.iter(tag=etree.Element):  # a div without its namespace: put it in XHTML
            if isinstance(node.tag, str) and not node.tag.startswith("{"):
                node.tag = _XHTML + node.tag
        etree.cleanup_namespaces(element)
    return etree.tostring(element, encoding="unicode", with_tail=False)


# --- XML -> JSON ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _parser() -> etree.XMLParser:
    # No DTDs, no entities, no network: an XML body is data, never instructions to fetch or expand.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=False, remove_pis=True)  # comments may be part of a narrative


def from_xml(data: bytes | str) -> dict:
    """The FHIR JSON dict of a FHIR XML document; XmlError (with the element path) when it is not one."""
    root = parse_document(data)
    return resource_from_element(root)


def parse_document(data: bytes | str) -> etree._Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"The body is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise XmlError("A DOCTYPE is not allowed in FHIR XML")
    return root


def is_fhir_document(root: etree._Element) -> bool:
    return isinstance(root.tag, str) and root.tag.startswith(_FHIR)


def resource_from_element(element: etree._Element, path: str | None = None) -> dict:
    tag = element.tag if isinstance(element.tag, str) else ""
    resource_type = tag[len(_FHIR):] if tag.startswith(_FHIR) else None
    if resource_type not in R4_RESOURCE_TYPES:
        name = etree.QName(element)
        raise XmlError(f"<{name.localname}> in {name.namespace or 'no namespace'} is not an R4 resource "
                       f"(a resource element is named after its type, in the namespace {FHIR_NS})", path)
    for attribute in _plain_attributes(element):
        raise XmlError(f"Unexpected attribute '{attribute}' on {resource_type}", path or resource_type)
    resource = {"resourceType": resource_type}
    resource.update(_read_content(element, resource_type, path or resource_type))
    return resource


def _read_content(element: etree._Element, key: str, path: str) -> dict:
    children = _children(key)
    _no_text(element.text, path)
    values: dict[str, list] = {}
    for child in element:
        _no_text(child.tail, path)
        if not isinstance(child.tag, str):
            continue  # a comment: not content
        name = _local_name(child, path)
        spec = children.get(name)
        if spec is None or spec[0] == "@":
            raise XmlError(f"Unknown element '{name}' in {key}", f"{path}.{name}")
        kind, repeats = spec
        found = values.setdefault(name, [])
        if found and not repeats:
            raise XmlError(f"Element '{name}' may appear only once", f"{path}.{name}")
        item_path = f"{path}.{name}[{len(found)}]" if repeats else f"{path}.{name}"
        found.append(_read_item(child, name, kind, item_path))
    result: dict = {}
    for name, value in element.attrib.items():
        if children.get(name, ("",))[0] == "@":
            result[name] = value
    for name in sorted(values, key=_position(key).__getitem__) if len(values) > 1 else values:
        kind, repeats = children[name]
        items = values[name]
        if _is_primitive(kind) and kind != "xhtml":
            plain = [value for value, _ in items]
            extras = [extra for _, extra in items]
            if any(v is not None for v in plain):
                result[name] = plain if repeats else plain[0]
            if any(e is not None for e in extras):
                result[f"_{name}"] = extras if repeats else extras[0]
        else:
            result[name] = items if repeats else items[0]
    return result


def _read_item(child: etree._Element, name: str, kind: str, path: str):
    if kind == "xhtml":
        return _read_xhtml(child, path)
    if _is_primitive(kind):
        return _read_primitive(child, kind, path)
    if kind == "Resource":
        _no_text(child.text, path)
        inner = [c for c in child if isinstance(c.tag, str)]
        if len(inner) != 1 or _plain_attributes(child):
            raise XmlError(f"'{name}' must hold exactly one resource", path)
        _no_text(inner[0].tail, path)
        return resource_from_element(inner[0], path)
    children = _children(kind)
    for attribute in _plain_attributes(child):
        if children.get(attribute, ("",))[0] != "@":
            raise XmlError(f"Unexpected attribute '{attribute}' on {name}", path)
    content = _read_content(child, kind, path)
    if not content:
        raise XmlError(f"Element '{name}' is empty", path)
    return content


def _read_primitive(child: etree._Element, kind: str, path: str) -> tuple:
    for attribute in _plain_attributes(child):
        if attribute not in ("value", "id"):
            raise XmlError(f"Unexpected attribute '{attribute}' on a primitive", path)
    extra: dict = {}
    if "id" in child.attrib:
        extra["id"] = child.attrib["id"]
    extensions = _read_content(child, "Extension", path) if len(child) or child.text else {}
    extensions.pop("id", None)  # the id attribute, read above (url was refused as unexpected)
    unexpected = set(extensions) - {"extension"}
    if unexpected:
        raise XmlError(f"A primitive element may hold only extensions, not '{unexpected.pop()}'", path)
    if extensions:
        extra["extension"] = extensions["extension"]
    value = child.attrib.get("value")
    if value is None and not extra:
        raise XmlError("A primitive element needs a value attribute or extensions", path)
    return (None if value is None else _json_value(value, kind, path)), (extra or None)


def _json_value(text: str, kind: str, path: str):
    if kind == "boolean":
        if text not in ("true", "false"):
            raise XmlError(f"'{text}' is not a boolean (true or false)", path)
        return text == "true"
    if kind in _INTEGERS:
        if not _INTEGER_TEXT.fullmatch(text):
            raise XmlError(f"'{text}' is not an integer", path)
        return int(text)
    if kind == "decimal":
        if not _DECIMAL_TEXT.fullmatch(text):
            raise XmlError(f"'{text}' is not a decimal", path)
        return decimals.decimal_of(text)  # its text kept: <value value="1.50"/> stays 1.50
    return text


def _read_xhtml(child: etree._Element, path: str) -> str:
    if child.tag != _XHTML + "div":
        raise XmlError(f"The narrative must be an XHTML <div> in the namespace {XHTML_NS}", path)
    div = copy.deepcopy(child)
    div.tail = None
    # Only the XHTML namespace (and those the div itself uses) belong in the JSON string.
    etree.cleanup_namespaces(div, top_nsmap={None: XHTML_NS})
    text = etree.tostring(div, encoding="unicode", with_tail=False)
    if any(node.prefix for node in div.iter() if isinstance(node.tag, str) and node.tag.startswith(_XHTML)):
        text = _default_namespace(div)
    return text


def _default_namespace(div: etree._Element) -> str:
    """Rewrite a prefixed XHTML div (<h:div xmlns:h=...>) with the default namespace JSON expects."""
    rebuilt = etree.fromstring(etree.tostring(div))
    new = etree.Element(_XHTML + "div", nsmap={None: XHTML_NS})

    def copy_into(source, target):
        target.text = source.text
        target.attrib.update(source.attrib)
        for node in source:
            if isinstance(node.tag, str):
                sub = etree.SubElement(target, node.tag)
                copy_into(node, sub)
                sub.tail = node.tail

    copy_into(rebuilt, new)
    return etree.tostring(new, encoding="unicode")


def _local_name(child: etree._Element, path: str) -> str:
    tag = child.tag
    if not isinstance(tag, str):
        raise XmlError("Unexpected node", path)
    if tag.startswith(_XHTML):
        return tag[len(_XHTML):]
    if not tag.startswith(_FHIR):
        raise XmlError(f"Element <{etree.QName(child).localname}> is not in the FHIR namespace {FHIR_NS}", path)
    return tag[len(_FHIR):]


def _plain_attributes(element: etree._Element) -> list[str]:
    """Attributes without a namespace; namespaced ones (xsi:schemaLocation) carry no FHIR content."""
    return [name for name in element.attrib if not name.startswith("{")]


def _no_text(text: str | None, path: str) -> None:
    if text and text.strip():
        raise XmlError(f"Unexpected text '{text.strip()[:40]}': FHIR XML puts values in value attributes", path)


def to_document(resource: dict, pretty: bool = False) -> str:
    """A complete XML document (with its declaration) for an HTTP body."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + to_xml(resource, pretty)
