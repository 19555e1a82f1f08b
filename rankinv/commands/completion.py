"""``rankinv completion SHELL``: print a completion script for bash, zsh or fish, made from the parser.

The parser only: :mod:`rankinv.cli` binds the command (it owns the full parser the script is made from).
"""

from __future__ import annotations

from typing import Any

from rankinv.completion import SHELLS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish) for commands, options and ROOT folders",
        description=(
            'bash: eval "$(rankinv completion bash)" in ~/.bashrc;  zsh: eval "$(rankinv completion zsh)" in '
            "~/.zshrc after compinit;  fish: rankinv completion fish > ~/.config/fish/completions/rankinv.fish"
        ),
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
