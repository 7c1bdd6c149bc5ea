"""MLLP framing: bytes in, frames out (no sockets)."""

from __future__ import annotations

import pytest

from hl7bridge.connectors.mllp import FrameBuffer, frame


def test_a_frame_split_across_reads_comes_out_whole() -> None:
    buffer = FrameBuffer(1024)
    data = frame(b"MSH|a\rPID|b\r")
    assert buffer.feed(data[:4]) == [] and buffer.partial
    assert buffer.feed(data[4:]) == [b"MSH|a\rPID|b\r"] and not buffer.partial


def test_several_frames_in_one_read_all_come_out_in_order() -> None:
    assert FrameBuffer(1024).feed(frame(b"one") + frame(b"two") + frame(b"three")) == [b"one", b"two", b"three"]


def test_noise_between_frames_and_a_missing_trailing_cr_are_tolerated() -> None:
    buffer = FrameBuffer(1024)
    assert buffer.feed(b"\r\n  \x0bone\x1c\x0btwo\x1c\r") == [b"one", b"two"]


def test_a_frame_over_the_limit_is_refused_even_before_it_ends() -> None:
    buffer = FrameBuffer(10)
    with pytest.raises(OverflowError):
        buffer.feed(b"\x0b" + b"x" * 20)
    with pytest.raises(OverflowError):
        FrameBuffer(10).feed(frame(b"y" * 11))


def test_a_frame_at_the_limit_is_accepted() -> None:
    assert FrameBuffer(10).feed(frame(b"z" * 10)) == [b"z" * 10]
