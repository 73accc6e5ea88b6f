"""The README's commands, flags and exit codes against the real ``--help`` of the entry points.

Every ``python -m rehearsal ...`` and ``python -m controller ...`` in the
README (code blocks, inline code, the operator table, ``make rehearsal
ARGS=...``) must name a command that exists and flags its ``--help`` lists;
every exit code the README documents must be one ``--help`` lists, with the
same meaning. The help comes from ``main(["CMD", "--help"])``, which
``python -m rehearsal`` and ``python -m controller`` call.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

from controller.cli.main import main as controller_main
from rehearsal.cli import main as rehearsal_main

README = Path(__file__).resolve().parents[2] / "README.md"
ENTRY_POINTS: dict[str, Callable[..., int]] = {
    "rehearsal": rehearsal_main,
    "controller": controller_main,
}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# A command line runs to the end of its line, a comment, a pipe, a comma or the next command.
MENTION = re.compile(r"python -m (rehearsal|controller)\b((?:(?!python -m)[^`\n#|&;,])*)")


@cache
def help_text(module: str, command: str | None = None) -> str | None:
    """``python -m MODULE [COMMAND] --help`` (None when the command does not exist)."""
    if command is not None and not re.fullmatch(r"[a-z][a-z-]*", command):
        return None
    argv = [command, "--help"] if command else ["--help"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ENTRY_POINTS[module](argv)
        except SystemExit as done:
            if done.code not in (0, None):
                return None
    return out.getvalue()


@cache
def commands(module: str) -> tuple[str, ...]:
    """The sub-commands ``python -m MODULE --help`` lists (``{a,b,c}`` or one per line)."""
    text = help_text(module) or ""
    choices = re.search(r"\{([a-z,-]+)\}", text)
    if choices:
        return tuple(choices.group(1).split(","))
    listed = re.findall(r"^    ([a-z][a-z-]+)  ", text, flags=re.MULTILINE)
    return tuple(listed)


def has_flag(module: str, command: str | None, flag: str) -> bool:
    text = help_text(module, command)
    return (
        text is not None and re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None
    )


@cache
def readme() -> str:
    return README.read_text()


def sections() -> Iterator[tuple[str, str]]:
    """(title, body) of each ``##`` section."""
    parts = re.split(r"^## (.+)$", readme(), flags=re.MULTILINE)
    for index in range(1, len(parts), 2):
        yield parts[index], parts[index + 1]


def section(prefix: str) -> str:
    return next(body for title, body in sections() if title.startswith(prefix))


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, flags=re.MULTILINE | re.DOTALL)


def inline_spans(text: str) -> list[str]:
    without_blocks = re.sub(r"^ *```.*?^ *```", "", text, flags=re.MULTILINE | re.DOTALL)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", without_blocks)]


def mentions() -> list[tuple[str, str | None, list[str], str]]:
    """(module, command, flags, where) of every command line the README shows."""
    found = []
    texts = [*code_blocks(readme()), *inline_spans(readme())]
    for text in texts:
        text = text.replace("\\\n", " ")
        for module, rest in MENTION.findall(text):
            words = rest.split()
            command = words[0] if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) else None
            found.append((module, command, FLAG.findall(rest), f"python -m {module}{rest}"))
    for args in re.findall(r'make rehearsal ARGS="([^"]*)"', readme()):
        found.append(("rehearsal", "run", FLAG.findall(args), f'make rehearsal ARGS="{args}"'))
    return found


def test_the_readme_mentions_both_entry_points():
    modules = {module for module, *_ in mentions()}
    assert modules == {"rehearsal", "controller"}
    assert {"plan", "run", "serve"} <= set(commands("rehearsal"))
    assert {"status", "start", "preflight"} <= set(commands("controller"))


def test_every_command_line_in_the_readme_exists_in_help():
    problems = []
    for module, command, flags, where in mentions():
        if command is not None and help_text(module, command) is None:
            problems.append(f"`python -m {module} {command}` is not a command ({where})")
            continue
        for flag in flags:
            if flag != "--help" and not has_flag(module, command, flag):
                shown = f"python -m {module}" + (f" {command}" if command else "")
                problems.append(f"`{shown}` has no flag {flag} in its --help ({where})")
    assert not problems, "\n".join(problems)


def _bullets(text: str) -> list[str]:
    """Top-level bullets (``- ``) with their continuation and nested lines."""
    bullets: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            bullets.append(line)
        elif bullets and line.startswith(" "):
            bullets[-1] += "\n" + line
        elif bullets and not line.strip():
            bullets.append("")
    return [b for b in bullets if b]


def test_every_flag_in_the_rehearsal_commands_exists_in_that_commands_help():
    body = section("The local rehearsal").split("### Commands", 1)[1]
    problems = []
    for bullet in _bullets(body):
        match = re.match(r"- `python -m rehearsal (\w+)", bullet)
        if match is None:
            continue
        command = match.group(1)
        own = [span for span in inline_spans(bullet) if "python -m controller" not in span]
        for flag in FLAG.findall(" ".join(own)):
            if not has_flag("rehearsal", command, flag):
                problems.append(f"`python -m rehearsal {command}` has no flag {flag}")
    common = re.search(r"`plan`, `run` and `serve` take (.*?)\n\n", body, flags=re.DOTALL)
    assert common, "the paragraph of the common options is gone"
    for flag in FLAG.findall(common.group(1)):
        for command in ("plan", "run", "serve"):
            if not has_flag("rehearsal", command, flag):
                problems.append(f"`python -m rehearsal {command}` has no flag {flag}")
    assert not problems, "\n".join(problems)


def test_every_flag_in_the_operator_guide_exists_in_that_commands_help():
    body = section("Operator guide")
    problems = []
    for row in re.findall(r"^\| `([a-z]+)( [^`]*)?` \|(.*)$", body, flags=re.MULTILINE):
        command, options, rest = row
        for flag in FLAG.findall(options + " " + " ".join(inline_spans(rest))):
            if not has_flag("controller", command, flag):
                problems.append(f"`python -m controller {command}` has no flag {flag}")
    for span in inline_spans(body):
        words = span.split()
        if words and help_text("controller", words[0]) is not None and FLAG.search(span):
            for flag in FLAG.findall(span):
                if not has_flag("controller", words[0], flag):
                    problems.append(f"`python -m controller {words[0]}` has no flag {flag}")
        elif (
            len(words) == 1
            and FLAG.fullmatch(words[0])
            and not any(has_flag("controller", c, words[0]) for c in commands("controller"))
        ):
            problems.append(f"no `python -m controller` command has the flag {words[0]}")
    assert not problems, "\n".join(problems)


# --- exit codes ---------------------------------------------------------------------------


def help_exit_codes(module: str) -> dict[int, str]:
    """The ``exit codes:`` list of ``python -m MODULE --help``: code -> its text."""
    text = help_text(module)
    assert text is not None and "exit codes:" in text, (
        f"python -m {module} --help lists no exit codes"
    )
    listing = text.split("exit codes:", 1)[1]
    entries = re.split(r"^  (\d)  ", listing, flags=re.MULTILINE)
    return {int(entries[i]): " ".join(entries[i + 1].split()) for i in range(1, len(entries), 2)}


def readme_exit_codes(paragraph: str) -> dict[int, str]:
    entries = re.split(r"\*\*(\d)\*\*", paragraph)
    return {int(entries[i]): " ".join(entries[i + 1].split()) for i in range(1, len(entries), 2)}


def _first_word(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.split()[0].lower())


@pytest.mark.parametrize(
    ("module", "opening"),
    [
        ("controller", "Exit codes (as `python -m controller --help` lists them):"),
        ("rehearsal", "Exit codes of `python -m rehearsal`:"),
    ],
)
def test_documented_exit_codes_match_help(module: str, opening: str):
    assert opening in readme(), f"the README's exit codes of python -m {module} are gone"
    paragraph = readme().split(opening, 1)[1].split("\n\n", 1)[0]
    documented = readme_exit_codes(paragraph)
    listed = help_exit_codes(module)
    assert set(documented) == set(listed), (
        f"python -m {module}: README documents exit codes {sorted(documented)}, "
        f"--help lists {sorted(listed)}"
    )
    for code, text in documented.items():
        assert _first_word(text) in listed[code].lower(), (
            f"python -m {module}: exit {code} is '{text[:40]}...' in the README but "
            f"'{listed[code][:60]}...' in --help"
        )


@pytest.mark.parametrize(
    ("module", "titles"),
    [
        ("controller", ("Operator guide", "Deploying to AWS")),
        ("rehearsal", ("The local rehearsal",)),
    ],
)
def test_every_exit_code_mentioned_is_one_help_lists(module: str, titles: tuple[str, ...]):
    listed = help_exit_codes(module)
    problems = []
    for title in titles:
        for code in re.findall(r"\bexits? (\d)\b", section(title)):
            if int(code) not in listed:
                problems.append(
                    f"'{title}' mentions exit {code}; "
                    f"python -m {module} --help lists {sorted(listed)}"
                )
    assert not problems, "\n".join(problems)


def test_the_check_is_live():
    """A flag that does not exist is found, naming the flag and the command."""
    assert has_flag("controller", "resume", "--accept-live")
    assert not has_flag("controller", "sync", "--reason")
    assert not has_flag("rehearsal", "run", "--port")
    assert help_text("controller", "no-such-command") is None
