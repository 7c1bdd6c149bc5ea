"""``hl7bridge test``: run channel test files offline, the way Benthos runs config unit tests.

Each ``*.test.yaml`` names a channel and lists cases: an input message, optional mocked
destination answers, and expectations (ACK code, filtered, error, per-destination payload and
outcome).  No broker, no sockets, no store: intake's ACK, the channel's filter and steps and the
retry rules are pure functions, run here directly.  docs/channel-tests.md is the analyst's guide.

Output, one line per case, then a summary::

    test adt_to_patient_service: admission is delivered ... passed
    test adt_to_patient_service: merge is filtered ... FAILED
      config/adt.test.yaml:31: filtered
      --- expected
      +++ actual
      ...
    1 passed, 1 failed
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hl7bridge.channels.load import load_config
from hl7bridge.channels.spec import Config
from hl7bridge.channels.testing_run import ChannelUnderTest, check
from hl7bridge.channels.testing_spec import TestFile, read_test_file
from hl7bridge.engine.errors import ConfigError, ConfigErrors, HL7BridgeError

__all__ = ["Tally", "find_test_files", "run_channel_tests", "run_test_file"]

Echo = Callable[[str], None]
PATTERN = "*.test.yaml"


@dataclass(slots=True)
class Tally:
    passed: int = 0
    failed: int = 0
    invalid_files: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.invalid_files == 0

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        return text + (f", {self.invalid_files} invalid test file(s)" if self.invalid_files else "")


def run_channel_tests(path: str | None, config_path: str, *, echo: Echo) -> bool:
    """Validate the config, run every test file at ``path`` (a file or a folder; default: the
    config's folder), print each case and a summary; True when the config is valid, there was at
    least one test file, and every case passed."""
    try:
        config = load_config(config_path)
    except ConfigErrors as exc:
        _print_errors(exc.errors, echo)
        echo("the config is invalid; no tests were run")
        return False
    where = Path(path) if path else Path(config_path).parent
    if not where.exists():
        echo(f"{where}: no such file or folder")
        return False
    files = find_test_files(where)
    if not files:
        echo(f"no test files ({PATTERN}) found in {where}")
        return False
    tally = Tally()
    config_dir = Path(config_path).parent
    for file in files:
        run_test_file(file, config, config_dir, tally, echo)
    echo(tally.summary())
    return tally.ok


def find_test_files(path: Path) -> list[Path]:
    """``path`` itself when it is a file, else every *.test.yaml below it, in name order."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob(PATTERN) if p.is_file())


def run_test_file(file: Path, config: Config, config_dir: Path, tally: Tally, echo: Echo) -> None:
    """Run one test file's cases, adding them to ``tally``; an invalid file prints its errors."""
    try:
        tests = read_test_file(file, config)
        channel = ChannelUnderTest(tests.channel, config.channels[tests.channel], config_dir)
    except ConfigErrors as exc:
        _print_errors(exc.errors, echo)
        tally.invalid_files += 1
        return
    except HL7BridgeError as exc:  # a step that cannot be built (e.g. a python target that fails to import)
        code, text = (exc.code, exc.message) if isinstance(exc, ConfigError) else ("channel", str(exc))
        echo(f"{file}:1:1 error [{code}] the channel's steps cannot be built: {text}")
        tally.invalid_files += 1
        return
    _run_cases(tests, channel, tally, echo)


def _run_cases(tests: TestFile, channel: ChannelUnderTest, tally: Tally, echo: Echo) -> None:
    for index, case in enumerate(tests.cases, start=1):
        failures = check(case, channel.run(case, index))
        if not failures:
            tally.passed += 1
            echo(f"test {tests.channel}: {case.name} ... passed")
            continue
        tally.failed += 1
        echo(f"test {tests.channel}: {case.name} ... FAILED")
        for failure in failures:
            echo(f"  {tests.path}:{failure.line}: {failure.what}")
            for line in failure.diff:
                echo(f"    {line}")


def _print_errors(errors: list[ConfigError], echo: Echo) -> None:
    for error in errors:
        echo(error.render())
