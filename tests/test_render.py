"""The text renderer, colour rules and `unilang explain`."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from unilang.cli import main
from unilang.codes import explain
from unilang.diagnostics import Label, Span, error, warning
from unilang.render import TextRenderer, use_color

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "errors"

SOURCE = {
    "app.uni": (
        "policy lab {\n"
        "    deny = [hw.io_ports];\n"
        "\tallow = [hw.io_ports];\n"  # a tab: expanded to 4 spaces, carets follow
        "}\n"
        "\n\n\n\n\n\n"
        "app hello {\n"
        "    vcpus = 0;\n"
        "}\n"
    ),
}


def both_denied() -> object:
    return error(
        "U0033", "policy `lab` both denies and allows `hw.io_ports`",
        Span("app.uni", 3, 11, 3, 22),
        labels=(Label(Span("app.uni", 2, 13, 2, 24), "denied here"),),
        notes=("a policy decides each capability once",),
        help="remove one of the two rules")


def test_error_with_label_note_and_help() -> None:
    out = TextRenderer(SOURCE.get).render(both_denied())  # type: ignore[arg-type]
    assert out == (
        "app.uni:3:11: error[U0033]: policy `lab` both denies and allows `hw.io_ports`\n"
        "  |\n"
        "3 |     allow = [hw.io_ports];\n"
        "  |              ^^^^^^^^^^^\n"
        "  --> app.uni:2:13\n"
        "  |\n"
        "2 |     deny = [hw.io_ports];\n"
        "  |             ----------- denied here\n"
        "  = note: a policy decides each capability once\n"
        "  = help: remove one of the two rules\n"
    )


def test_warning_with_backend_and_two_digit_line() -> None:
    d = attrs.evolve(warning("U0151", "`heap.max_size` is set to its default value 64 MiB",
                             Span("app.uni", 12, 13, 12, 14)), backend="kvm")
    out = TextRenderer(SOURCE.get).render(d)
    assert out == (
        "app.uni:12:13: warning[U0151]: `heap.max_size` is set to its default value 64 MiB"
        " [backend kvm]\n"
        "   |\n"
        "12 |     vcpus = 0;\n"
        "   |             ^\n"
    )


def test_no_span_and_unknown_file() -> None:
    r = TextRenderer(SOURCE.get)
    assert r.render(error("U0001", "cannot read `x.uni`: no such file")) == \
        "error[U0001]: cannot read `x.uni`: no such file\n"
    # a span in a file the renderer cannot show: location only, no snippet
    d = error("U0020", "cannot find module `netwrok`", Span("gone.uni", 1, 1, 1, 16),
              help="check the spelling")
    assert r.render(d) == ("gone.uni:1:1: error[U0020]: cannot find module `netwrok`\n"
                           "  = help: check the spelling\n")


def test_colour_codes() -> None:
    out = TextRenderer(SOURCE.get, color=True).render(both_denied())  # type: ignore[arg-type]
    red, blue, bold, reset = "\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m"
    assert out == (
        f"app.uni:3:11: {red}error[U0033]{reset}{bold}: policy `lab` both denies and allows "
        f"`hw.io_ports`{reset}\n"
        f"{blue}  |{reset}\n"
        f"{blue}3 |{reset}     allow = [hw.io_ports];\n"
        f"{blue}  |{reset} {red}             ^^^^^^^^^^^{reset}\n"
        f"{blue}  --> {reset}app.uni:2:13\n"
        f"{blue}  |{reset}\n"
        f"{blue}2 |{reset}     deny = [hw.io_ports];\n"
        f"{blue}  |{reset} {blue}            ----------- denied here{reset}\n"
        f"{blue}  = {reset}{bold}note{reset}: a policy decides each capability once\n"
        f"{blue}  = {reset}{bold}help{reset}: remove one of the two rules\n"
    )


CLI_U0031 = (
    "U0031-unknown-construct.uni:7:17: error[U0031]: unknown construct `consol`\n"
    "  |\n"
    "7 |     requires = [consol];\n"
    "  |                 ^^^^^^\n"
    "  = help: did you mean `console`?\n"
    "\n"
    "1 error emitted\n"
)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_check_text_output_not_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = CliRunner().invoke(main, ["check", "U0031-unknown-construct.uni", "-b", "kvm"])
    assert result.exit_code == 1
    assert result.stderr == CLI_U0031
    assert "\x1b[" not in result.output


def _check_on_tty(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(EXAMPLES)
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit) as exc:
        main(["check", "U0031-unknown-construct.uni", "-b", "kvm"], standalone_mode=False)
    assert exc.value.code == 1
    return err.getvalue()


def test_colour_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = _check_on_tty(monkeypatch)
    assert "\x1b[1;31merror[U0031]\x1b[0m" in out
    assert out.replace("\x1b[1;31m", "").replace("\x1b[1;34m", "").replace(
        "\x1b[1m", "").replace("\x1b[0m", "") == CLI_U0031


@pytest.mark.parametrize("value", ["1", ""])
def test_no_color_wins_over_a_tty(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NO_COLOR", value)
    assert _check_on_tty(monkeypatch) == CLI_U0031


def test_use_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(_Tty()) is False


def test_explain() -> None:
    result = CliRunner().invoke(main, ["explain", "U0031"])
    assert result.exit_code == 0
    assert result.output == explain("U0031")
    assert result.output.startswith("U0031: unknown name (error)\n\n")
    assert "did you mean `console`?" in result.output
    # codes are case-insensitive
    assert CliRunner().invoke(main, ["explain", "u0031"]).output == result.output


def test_explain_unknown_code() -> None:
    result = CliRunner().invoke(main, ["explain", "U9999"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "unknown diagnostic code `U9999`" in result.stderr
