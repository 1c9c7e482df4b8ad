"""Every command's --help prints (help texts come from the typed configs, so a stray % once broke `train --help`)."""

import pytest

from flows.cli import make_parser


@pytest.mark.parametrize("command", sorted(make_parser()._subparsers._group_actions[0].choices))
def test_every_command_prints_its_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        make_parser().parse_args([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: remot {command}" in capsys.readouterr().out
