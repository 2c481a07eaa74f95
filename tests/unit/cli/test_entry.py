"""The console scripts' guard: an interrupt ends in one line; a finished command leaves its objects to the OS."""

import gc

from fpqc.entry import _guarded


def test_a_finished_command_freezes_its_objects_for_the_exit():
    """The interpreter's last collection skips frozen objects: a model's IR is not walked at exit."""
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        assert _guarded(lambda: lambda: 3) == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_an_interrupt_is_one_line(capsys):
    def interrupted() -> int:
        raise KeyboardInterrupt

    assert _guarded(lambda: interrupted) == 130
    assert capsys.readouterr().err == "error: interrupted\n"
