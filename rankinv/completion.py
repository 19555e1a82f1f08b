"""Shell completion scripts for bash, zsh and fish, generated from the argparse parser itself (so a new command
or option completes without anyone editing a script). Pure: parser in, script text out.

Completes command names (with their help in zsh and fish), each command's options, an option's ``choices``,
and directories for ``ROOT``-like positionals.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    choices: tuple[str, ...]
    takes_value: bool


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    choices: tuple[str, ...]  # a positional's fixed choices (``completion SHELL``), else ()


def _help(text: str | None) -> str:
    return " ".join((text or "").replace("%%", "%").split())[:80]


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    out = []
    for name, p in sub.choices.items():
        options: list[Option] = []
        choices: tuple[str, ...] = ()
        for action in p._actions:
            if action.option_strings:
                takes = action.nargs != 0
                options.append(Option(tuple(action.option_strings), _help(action.help),
                                      tuple(map(str, action.choices or ())), takes))  # fmt: skip
            elif action.choices:
                choices = tuple(map(str, action.choices))
        out.append(Command(name, _help(helps.get(name)), tuple(options), choices))
    return out


def bash(cmds: list[Command], prog: str = "rankinv") -> str:
    cases = []
    for c in cmds:
        flags = " ".join(f for o in c.options for f in o.flags)
        values = [f"{f}) COMPREPLY=($(compgen -W {shlex.quote(' '.join(o.choices))} -- \"$cur\")); return;;"
                  for o in c.options if o.choices for f in o.flags]  # fmt: skip
        words = " ".join(c.choices)
        fallback = f'COMPREPLY=($(compgen -W "{words}" -- "$cur"))' if words else 'COMPREPLY=($(compgen -d -- "$cur"))'
        cases.append(
            f"    {c.name})\n"
            f'      case "$prev" in {" ".join(values)} esac\n'
            f'      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{flags}" -- "$cur")); else {fallback}; fi;;'
        )
    names = " ".join(c.name for c in cmds)
    fn = f"_{prog}_complete"
    return (
        f"# bash completion for {prog}: eval \"$({prog} completion bash)\" in ~/.bashrc\n"
        f"{fn}() {{\n"
        '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"\n'
        "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
        f'    COMPREPLY=($(compgen -W "{names} --help --version" -- "$cur")); return\n'
        "  fi\n"
        '  case "${COMP_WORDS[1]}" in\n' + "\n".join(cases) + "\n  esac\n}\n"
        f"complete -o filenames -F {fn} {prog}\n"
    )


def _zsh_quote(text: str) -> str:
    return text.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def zsh(cmds: list[Command], prog: str = "rankinv") -> str:
    described = "\n".join(f"    '{c.name}:{_zsh_quote(c.help)}'" for c in cmds)
    cases = []
    for c in cmds:
        specs = []
        for o in c.options:
            value = f":value:({' '.join(o.choices)})" if o.choices else (":value:_files" if o.takes_value else "")
            for f in o.flags:
                specs.append(f"'{f}[{_zsh_quote(o.help)}]{value}'")
        rest = f"'*:value:({' '.join(c.choices)})'" if c.choices else "'*:root:_files -/'"
        cases.append(f"    {c.name}) _arguments {' '.join(specs)} {rest} ;;")
    return (
        f"#compdef {prog}\n"
        f"# zsh completion for {prog}: eval \"$({prog} completion zsh)\" in ~/.zshrc (after compinit)\n"
        f"_{prog}() {{\n  local -a commands\n  commands=(\n{described}\n  )\n"
        "  if (( CURRENT == 2 )); then _describe 'command' commands; return; fi\n"
        "  shift words; (( CURRENT-- ))\n"
        '  case "$words[1]" in\n' + "\n".join(cases) + "\n  esac\n}\n"
        f"compdef _{prog} {prog}\n"
    )


def fish(cmds: list[Command], prog: str = "rankinv") -> str:
    q = shlex.quote
    lines = [f"# fish completion for {prog}: {prog} completion fish > ~/.config/fish/completions/{prog}.fish",
             f"complete -c {prog} -f"]  # fmt: skip
    for c in cmds:
        lines.append(f"complete -c {prog} -n __fish_use_subcommand -a {c.name} -d {q(c.help)}")
        cond = f"-n '__fish_seen_subcommand_from {c.name}'"
        for o in c.options:
            flags = " ".join(f"-l {f[2:]}" if f.startswith("--") else f"-s {f[1:]}" for f in o.flags)
            value = f" -x -a {q(' '.join(o.choices))}" if o.choices else (" -r" if o.takes_value else "")
            lines.append(f"complete -c {prog} {cond} {flags}{value} -d {q(o.help)}")
        values = q(" ".join(c.choices)) if c.choices else "'(__fish_complete_directories)'"
        lines.append(f"complete -c {prog} {cond} -a {values}")
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    generate = {"bash": bash, "zsh": zsh, "fish": fish}[shell]
    return generate(commands(parser), parser.prog)
