"""A bounded, repeatable schemathesis run over one of Mutirão's OpenAPI files against a real
server: every operation gets a few generated requests (valid ones and, with negative data,
invalid ones), and every answer must be no server error, a status the file documents, a
body that matches the documented schema and the documented content type.

Fixed seed and derandomized, so a failure is the same on every run; the number of examples
per operation bounds the run's time.
"""

from __future__ import annotations

from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(
    spec: Path,
    base_url: str,
    headers: dict[str, str],
    *,
    examples: int = 4,
    skip: frozenset[str] = frozenset(),
) -> int:
    """Run every operation of ``spec`` (but those labelled in ``skip``) against ``base_url``;
    raise, after the run, every failure with the request that caused it. Returns the number of
    requests."""
    schema = schemathesis.openapi.from_path(spec)
    session = requests.Session()
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=examples,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                nonlocal sent
                response = case.call(base_url=base_url, headers=headers, session=session)
                sent += 1
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except BaseException as e:  # schemathesis raises groups: every one is told
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                failures.append(f"{operation.label} ({mode.value}): {e}")
    if failures:
        raise AssertionError("\n\n".join(failures))
    return sent
