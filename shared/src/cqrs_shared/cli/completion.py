"""``cqrs completion bash|zsh``: a shell completion script, written from the parsers themselves (so a
new verb or option completes without a change here; parsed by parsers/completion.py). zsh runs the
bash script through bashcompinit.

    source <(cqrs completion bash)
"""

import argparse
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

# An argument whose metavar says it is a file completes with the file names.
_FILES = "FILE"


@dataclass
class Node:
    """One verb path (``"customer create"``; ``""`` is ``cqrs`` itself): what may follow it."""

    path: str
    verbs: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    valued: list[str] = field(default_factory=list)  # the options that take a value
    values: dict[str, list[str] | None] = field(
        default_factory=dict
    )  # option or position: words; None: files


def nodes(parser: argparse.ArgumentParser, path: str = "") -> Iterator[Node]:
    """Every verb path below ``parser``, depth first (private argparse fields: there is no public walk)."""
    node, children = Node(path), []
    positional = 0
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            node.verbs += list(action.choices)
            children += [(f"{path} {name}".strip(), child) for name, child in action.choices.items()]
        elif action.option_strings:
            node.options += action.option_strings
            if action.nargs != 0:
                node.valued += action.option_strings
                node.values.update(dict.fromkeys(action.option_strings, _words(action)))
        else:
            node.values[str(positional)] = _words(action)
            positional += 1
    yield node
    for child_path, child in children:
        yield from nodes(child, child_path)


def _words(action: argparse.Action) -> list[str] | None:
    if action.choices is not None:
        return [str(choice) for choice in action.choices]
    return None if action.metavar == _FILES else []


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    bash = _bash(list(nodes(parser)), parser.prog)
    if shell == "bash":
        return bash
    return (
        "# zsh completion of cqrs: the bash completion, through zsh's bashcompinit.\n"
        "# Load it: source <(cqrs completion zsh)\n"
        "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }\n"
        "autoload -U +X bashcompinit && bashcompinit\n\n" + bash
    )


def _bash(found: list[Node], prog: str) -> str:
    node_cases, value_cases = [], []
    for node in found:
        node_cases.append(
            f"        {shlex.quote(node.path)}) _cqrs_verbs={_list(node.verbs)}; "
            f"_cqrs_options={_list(node.options)}; _cqrs_valued={_list(node.valued)} ;;"
        )
        for key, words in node.values.items():
            if words is None:
                value_cases.append(f"        {shlex.quote(node.path + '|' + key)}) _cqrs_files=1 ;;")
            elif words:
                value_cases.append(
                    f"        {shlex.quote(node.path + '|' + key)}) _cqrs_words={_list(words)} ;;"
                )
    return _TEMPLATE.format(
        prog=prog, nodes="\n".join(node_cases), values="\n".join(value_cases) or "        '') ;;"
    )


def _list(words: list[str]) -> str:
    return shlex.quote(" ".join(words))


_TEMPLATE = """\
# bash completion of {prog}, written from its parsers by `{prog} completion bash`.
# Load it: source <({prog} completion bash)

_cqrs_node() {{
    # $1, a verb path: the verbs, the options, and the options taking a value, that may follow it
    case "$1" in
{nodes}
        *) _cqrs_verbs=''; _cqrs_options=''; _cqrs_valued='' ;;
    esac
}}

_cqrs_values() {{
    # $1, a verb path; $2, an option or a positional argument's index: the words it takes
    case "$1|$2" in
{values}
    esac
}}

_cqrs() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path='' word i=1 skip=0 count=0
    local _cqrs_verbs _cqrs_options _cqrs_valued _cqrs_words='' _cqrs_files=0
    COMPREPLY=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        word="${{COMP_WORDS[i]}}"
        i=$((i + 1))
        if [ "$skip" -eq 1 ]; then
            skip=0
            continue
        fi
        _cqrs_node "$path"
        case "$word" in
            --*=*) ;;
            -*) case " $_cqrs_valued " in *" $word "*) skip=1 ;; esac ;;
            *)
                case " $_cqrs_verbs " in
                    *" $word "*) path="${{path:+$path }}$word"; count=0 ;;
                    *) count=$((count + 1)) ;;
                esac
                ;;
        esac
    done
    _cqrs_node "$path"
    if [ "$skip" -eq 1 ]; then
        _cqrs_values "$path" "${{COMP_WORDS[COMP_CWORD-1]}}"
    elif [[ "$cur" == -* ]]; then
        _cqrs_words="$_cqrs_options"
    elif [ -n "$_cqrs_verbs" ]; then
        _cqrs_words="$_cqrs_verbs"
    else
        _cqrs_values "$path" "$count"
    fi
    if [ "$_cqrs_files" -eq 1 ]; then
        type compopt >/dev/null 2>&1 && compopt -o filenames
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$_cqrs_words" -- "$cur"))
    fi
}}

complete -F _cqrs {prog}
"""
