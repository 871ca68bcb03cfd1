"""Host lists as Slurm writes them: compressed, read back, and cut for people."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envbuild.hostlist import compress, expand, shown


def test_the_forms_slurm_writes() -> None:
    nodes = [f"node{i:04d}" for i in range(128)] + ["node0140"]
    assert compress([*nodes, "login1", "gpu1", "gpu2", "gpu3", "gpu10", "head"]) == \
        "gpu[1-3,10],head,login1,node[0000-0127,0140]"
    assert compress(["node8", "node9", "node10"]) == "node[8-10]", "no padding: one set"
    assert compress(["n08", "n09", "n10"]) == "n[08-10]", "10 joins the set padded to its width"
    assert compress(["a1", "a1", "b"]) == "a1,b"
    assert expand("node[0000-0002,0140],login1,gpu[8-10]") == [
        "node0000", "node0001", "node0002", "node0140", "login1", "gpu8", "gpu9", "gpu10"]
    assert expand("rack[1-2]-bmc") == ["rack1-bmc", "rack2-bmc"], "a suffix after the brackets, as Slurm reads it"


@pytest.mark.parametrize(("text", "says"), [
    ("node[1-", "unbalanced brackets"), ("node[3-1]", "runs backwards"), ("node[a-b]", "not a number or a range"),
    ("a,,b", "is not a host name")])
def test_a_malformed_list_says_where(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        expand(text)


names = st.lists(st.builds(lambda prefix, digits: prefix + digits,
                           st.sampled_from(["node", "gpu-", "rack1-n", "", "login"]),
                           st.one_of(st.just(""), st.integers(0, 300).map(str),
                                     st.integers(0, 300).map(lambda n: f"{n:04d}"))).filter(bool), max_size=60)


@settings(max_examples=300, deadline=None)
@given(names)
def test_what_compress_writes_expand_reads_back(hosts: list[str]) -> None:
    assert sorted(expand(compress(hosts))) == sorted(set(hosts)) if hosts else compress(hosts) == ""


def test_a_long_list_is_cut_and_says_how_many_it_left_out() -> None:
    scattered = [f"node{i:04d}" for i in range(0, 1000, 7)]  # 143 hosts, none next to another
    text = shown(scattered)
    assert text == ("node[0000,0007,0014,0021,0028,0035,0042,0049,0056,0063,0070,0077] and 131 more hosts "
                    "(--json lists them all)")
    assert shown([f"node{i:04d}" for i in range(143)]) == "node[0000-0142]"
    assert shown([]) == ""
