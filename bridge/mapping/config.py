"""Load every mapping file in a directory into one validated `Config`.

Each file may hold `sources`, `destinations`, `rules` and `ledgers` (`file_models`); names are
global across files. All problems are collected (not just the first) and reported with file,
line and field. Unset secrets are warnings, not errors: the service starts and says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bridge.destinations import VENDORS, Destination
from bridge.destinations.base import Adjusted
from bridge.destinations.fields import FieldError
from bridge.identity.config import LedgerConfig
from bridge.mapping.errors import MappingError, MappingIssue, dotted, validation_problems
from bridge.mapping.expressions import (
    EvaluationError,
    Expression,
    ExpressionError,
    compile_expression,
)
from bridge.mapping.fields import FIELD_NAMES, coerce, compile_entry
from bridge.mapping.file_models import FileModel, RuleModel
from bridge.mapping.identity import IdentitySpec, fields_reading_identity, unreadable_paths
from bridge.mapping.loaded import Config
from bridge.mapping.notes import (
    missing_secret_notes,
    unknown_event_type_notes,
    unread_field_notes,
    unsigned_choice_notes,
    unused,
)
from bridge.mapping.rules import Rule, RuleSet
from bridge.mapping.yamlfile import Location, YamlDocument, load_yaml
from bridge.sources import SOURCE_KINDS, Source

_Component = TypeVar("_Component", Source, Destination)


def load_config(directory: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Validate and compile all `*.yaml`/`*.yml` files in `directory` (not recursive)."""
    loader = _Loader(environ if environ is not None else os.environ)
    return loader.load(directory)


def _constant_problem(
    destination: Destination, field_name: str, entry: Expression
) -> str | Adjusted | None:
    """Check at load time what a rule writes as constants (the parts that need no payload)."""
    try:
        value = coerce(field_name, entry.search({}))
    except (EvaluationError, FieldError):
        return None  # depends on the payload: checked per event
    return None if value is None else destination.validate_field(field_name, value)


class _Loader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.context = {"environ": environ}
        self.issues: list[MappingIssue] = []
        self.waiting: dict[str, list[str]] = {"source": [], "destination": []}
        """Per kind of entry: a warning for each secret that is not set."""
        self.source_notes: list[str] = []
        """What a source's settings leave open to forged or replayed requests."""
        self.rule_notes: list[str] = []
        self.sources: dict[str, Source] = {}
        self.destinations: dict[str, Destination] = {}
        self.ledgers: dict[str, LedgerConfig] = {}
        self.origins: dict[str, str] = {}
        self.broken: set[str] = set()
        """`source:NAME` or `destination:NAME` defined with errors (already reported)."""
        self.unread = False
        """A file that could not be read at all may define any name a rule uses."""

    def load(self, directory: Path) -> Config:
        where = str(directory.absolute())
        if not directory.exists():
            raise MappingError([MappingIssue(where, None, "", "mappings directory not found")])
        if not directory.is_dir():
            problem = "not a directory (give the folder of mapping files)"
            raise MappingError([MappingIssue(where, None, "", problem)])
        paths = sorted(
            p
            for p in directory.iterdir()
            if p.suffix in {".yaml", ".yml"} and (p.is_file() or p.is_symlink())
        )
        if not paths:
            raise MappingError([MappingIssue(where, None, "", "no mapping files (*.yaml) found")])
        documents: list[tuple[YamlDocument, FileModel]] = []
        for path in paths:
            parsed = self._read(path)
            if parsed is not None:
                documents.append(parsed)
        for document, model in documents:
            for name, options in model.sources.items():
                source = self._build(document, "sources", name, options, "kind", SOURCE_KINDS)
                if source is not None:
                    self.sources[name] = source
            for name, options in model.destinations.items():
                destination = self._build(
                    document, "destinations", name, options, "vendor", VENDORS
                )
                if destination is not None:
                    self.destinations[name] = destination
            for name, options in model.ledgers.items():
                self._ledger(document, name, options)
        rules: list[Rule] = []
        for document, model in documents:
            for index, spec in enumerate(model.rules):
                rule = self._compile_rule(document, index, spec, {r.name for r in rules})
                if rule is not None:
                    rules.append(rule)
        if self.issues:
            raise MappingError(self.issues)
        config = Config(
            directory=directory,
            sources=self.sources,
            destinations=self.destinations,
            rules=RuleSet(rules),
            files={str(document.path): document.version for document, _ in documents},
            origins=self.origins,
            ledgers=self.ledgers,
        )
        config.notes = [
            *self.waiting["source"],
            *self.waiting["destination"],
            *self.source_notes,
            *self.rule_notes,
            *unused(config.sources, config.destinations, config.rules.rules),
        ]
        return config

    def _read(self, path: Path) -> tuple[YamlDocument, FileModel] | None:
        try:
            document = load_yaml(path)
        except MappingError as exc:
            self.issues.extend(exc.issues)
            self.unread = True
            return None
        try:
            return document, FileModel.model_validate(document.data or {})
        except ValidationError as exc:
            self._report(document, (), exc, FileModel)
            self.unread = True
            return None

    def _build(
        self,
        document: YamlDocument,
        section: str,
        name: str,
        options: dict[str, Any],
        key: str,
        registry: Mapping[str, type[_Component]],
    ) -> _Component | None:
        """Validate one source or destination entry against its kind's options model."""
        what = section.removesuffix("s")
        location: Location = (section, name)
        kind = self._registered(document, location, options, key, registry, f"{what} {key}")
        if kind is None or self._duplicate(document, location, what, name):
            self.broken.add(f"{what}:{name}")
            return None
        component = registry[kind]
        try:
            validated = component.options_model.model_validate(options, context=self.context)
        except ValidationError as exc:
            self._report(document, location, exc, component.options_model)
            self.broken.add(f"{what}:{name}")
            return None
        built = component(name, validated)
        self.waiting[what].extend(
            missing_secret_notes(built, document, location, options, self.environ)
        )
        if isinstance(built, Source):
            where = f"{document.path}:{document.line_of(location)}"
            self.source_notes.extend(f"source {name!r} ({where}): {w}" for w in built.warnings())
        return built

    def _ledger(self, document: YamlDocument, name: str, options: dict[str, Any]) -> None:
        location: Location = ("ledgers", name)
        if self._duplicate(document, location, "ledger", name):
            return
        try:
            self.ledgers[name] = LedgerConfig.model_validate(options, context=self.context)
        except ValidationError as exc:
            self._report(document, location, exc, LedgerConfig)

    def _compile_rule(
        self, document: YamlDocument, index: int, spec: dict[str, Any], taken: set[str]
    ) -> Rule | None:
        location: Location = ("rules", index)
        try:
            model = RuleModel.model_validate(spec)
        except ValidationError as exc:
            self._report(document, location, exc, RuleModel)
            return None
        before = len(self.issues)
        if model.name in taken:
            self._issue(document, (*location, "name"), f"rule name {model.name!r} is used twice")
        if self._unknown("source", model.source):
            self._issue(document, (*location, "source"), f"unknown source {model.source!r}")
        destinations = [self.destinations.get(name) for name in model.destination]
        for name in model.destination:
            if self._unknown("destination", name):
                self._issue(document, (*location, "destination"), f"unknown destination {name!r}")
        when = self._expression(document, (*location, "when"), model.when) if model.when else None
        entries: dict[str, Expression] = {}
        for field_name, written in model.conversion.items():
            where = (*location, "conversion", field_name)
            if field_name not in FIELD_NAMES:
                known = ", ".join(sorted(FIELD_NAMES))
                self._issue(document, where, f"unknown conversion field (known: {known})")
                continue
            try:
                entries[field_name] = compile_entry(written)
            except (ExpressionError, FieldError) as exc:
                self._issue(document, where, str(exc))
        identity = self._identity(document, location, model)
        required: frozenset[str] = frozenset()
        for destination in destinations:
            if destination is None:
                continue
            required |= destination.required_fields
            missing = sorted(destination.required_fields - model.conversion.keys())
            if missing:
                self._issue(
                    document,
                    (*location, "conversion"),
                    f"destination {destination.name!r} ({destination.vendor}) needs"
                    f" {', '.join(missing)}, which this rule does not map",
                )
            for field_name, entry in entries.items():
                problem = _constant_problem(destination, field_name, entry)
                where = (*location, "conversion", field_name)
                if isinstance(problem, Adjusted):
                    self.rule_notes.append(
                        f"rule {model.name!r} ({document.path}:{document.line_of(where)}):"
                        f" destination {destination.name!r} takes {field_name} changed:"
                        f" {problem.warning}"
                    )
                elif problem:
                    self._issue(document, where, f"destination {destination.name!r}: {problem}")
        if len(self.issues) > before:
            return None
        line = document.line_of(location)
        self.origins[f"rule:{model.name}"] = f"{document.path}:{line}"
        defined = [d for d in destinations if d is not None]
        if len(defined) == len(destinations):  # else defined with errors, already reported
            self.rule_notes.extend(
                unread_field_notes(model.name, entries, defined, document, location)
            )
        source = self.sources.get(model.source)
        if source is not None:  # else defined with errors, already reported
            self.rule_notes.extend(
                unknown_event_type_notes(source, model.name, model.events, document, location)
            )
            self.rule_notes.extend(
                unsigned_choice_notes(
                    source,
                    model.name,
                    checks_body=model.when is not None,
                    maps_transaction="transaction_id" in model.conversion,
                    document=document,
                    location=location,
                )
            )
        return Rule(
            name=model.name,
            source=model.source,
            events=frozenset(model.events),
            when=when,
            destinations=tuple(model.destination),
            entries=entries,
            required=required,
            file=str(document.path),
            line=line,
            version=document.version,
            field_checks={
                d.name: d.validate_field for d in destinations if d is not None and d.checks_fields
            },
            identity=identity,
        )

    def _identity(
        self, document: YamlDocument, location: Location, model: RuleModel
    ) -> IdentitySpec | None:
        """The rule's `identity:` compiled, and every `identity.` path its entries read
        checked against what the ledger captures (a path it cannot hold would be missing on
        every event)."""
        written = model.identity
        if written is None:
            for name in fields_reading_identity(model.conversion):
                self._issue(
                    document,
                    (*location, "conversion", name),
                    "reads identity, but the rule has no identity: (name the ledger and"
                    " the key the webhook carries)",
                )
            return None
        where = (*location, "identity")
        key = self._expression(document, (*where, "key"), written.key)
        link = self._expression(document, (*where, "link"), written.link) if written.link else None
        ledger = self.ledgers.get(written.ledger)
        if ledger is None:
            if f"ledger:{written.ledger}" not in self.origins and not self.unread:
                known = ", ".join(sorted(self.ledgers)) or "none defined"
                problem = f"unknown ledger {written.ledger!r} (known: {known})"
                self._issue(document, (*where, "ledger"), problem)
            return None
        for name, problem in unreadable_paths(model.conversion, written.ledger, ledger):
            self._issue(document, (*location, "conversion", name), problem)
        if key is None:
            return None
        return IdentitySpec(written.ledger, key, link, ledger.email_pepper)

    def _unknown(self, what: str, name: str) -> bool:
        """A name no file defines; not said of one defined with errors, already reported, nor
        while a file that could not be read may define it."""
        defined = self.sources if what == "source" else self.destinations
        return name not in defined and f"{what}:{name}" not in self.broken and not self.unread

    def _expression(
        self, document: YamlDocument, location: Location, text: str
    ) -> Expression | None:
        try:
            return compile_expression(text)
        except ExpressionError as exc:
            self._issue(document, location, str(exc))
            return None

    def _registered(
        self,
        document: YamlDocument,
        location: Location,
        options: dict[str, Any],
        key: str,
        registry: Mapping[str, Any],
        what: str,
    ) -> str | None:
        value = options.get(key) if isinstance(options, dict) else None
        if value in registry:
            return str(value)
        known = ", ".join(sorted(registry))
        problem = f"missing {key!r}" if value is None else f"unknown {what} {value!r}"
        self._issue(document, (*location, key), f"{problem} (known: {known})")
        return None

    def _duplicate(self, document: YamlDocument, location: Location, what: str, name: str) -> bool:
        key = f"{what}:{name}"
        where = f"{document.path}:{document.line_of(location)}"
        if key in self.origins:
            self._issue(
                document, location, f"{what} {name!r} is already defined at {self.origins[key]}"
            )
            return True
        self.origins[key] = where
        return False

    def _issue(self, document: YamlDocument, location: Location, message: str) -> None:
        self.issues.append(
            MappingIssue(str(document.path), document.line_of(location), dotted(location), message)
        )

    def _report(
        self,
        document: YamlDocument,
        base: Location,
        error: ValidationError,
        model: type[BaseModel],
    ) -> None:
        for parts, message in validation_problems(error, model, self.environ):
            self._issue(document, (*base, *parts), message)
