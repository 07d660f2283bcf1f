"""The ports an embedded system is given: free, distinct, and never ones the OS would hand out by itself meanwhile."""

from __future__ import annotations

import socket

import pytest

from flare_jupyter import poc


def test_the_ports_are_free_distinct_and_outside_the_range_the_os_hands_out():
    taken = poc.ephemeral_ports()
    for _ in range(20):
        ports = poc.free_ports(2)
        assert len(set(ports)) == 2
        assert not any(p in taken for p in ports), (ports, taken)
        for port in ports:
            with socket.socket() as s:
                s.bind(("", port))  # free: a server can listen there


def test_a_port_in_use_is_never_given():
    with socket.socket() as held:
        held.bind(("", poc.free_ports(1)[0]))
        held.listen()
        in_use = held.getsockname()[1]
        assert all(in_use not in poc.free_ports(3) for _ in range(50))


def test_the_linux_setting_is_read_and_a_missing_one_means_the_iana_range(tmp_path, monkeypatch):
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("20000\t60999\n")
    monkeypatch.setattr(poc, "EPHEMERAL_PORTS_FILE", setting)
    assert poc.ephemeral_ports() == range(20000, 61000)
    assert all(p >= 61000 for p in poc.free_ports(5))
    monkeypatch.setattr(poc, "EPHEMERAL_PORTS_FILE", tmp_path / "absent")
    assert poc.ephemeral_ports() == range(49152, 65536)
    assert all(20000 <= p < 49152 for p in poc.free_ports(5))


@pytest.mark.parametrize("setting", ["1024 65535", "20000 65535"])
def test_with_no_port_left_outside_the_range_the_os_picks_them(tmp_path, monkeypatch, setting):
    (tmp_path / "range").write_text(setting)
    monkeypatch.setattr(poc, "EPHEMERAL_PORTS_FILE", tmp_path / "range")
    ports = poc.free_ports(2)
    assert len(set(ports)) == 2 and all(p in poc.ephemeral_ports() for p in ports)
