"""gather_with_grad: two CPU processes on gloo reproduce the single-process loss and gradients."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from skelcl.contrastive import gather_with_grad, info_nce, is_distributed, self_exclusion_weights

WORLD, B, D = 2, 3, 5


def _data():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(WORLD * B, D, generator=g, dtype=torch.float64),
            torch.randn(WORLD * B, D, generator=g, dtype=torch.float64))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        a_all, p_all = _data()
        a = a_all[rank * B:(rank + 1) * B].clone().requires_grad_()
        p = p_all[rank * B:(rank + 1) * B].clone().requires_grad_()
        # negatives = every other anchor of the global batch ("anchors" mode), plus a
        # "positives"-mode loss whose negatives are every other positive
        ga, gp = gather_with_grad(a), gather_with_grad(p)
        w = self_exclusion_weights(B, dtype=torch.float64)
        loss = info_nce(a, p, ga, negative_weights=w, reduction="sum")
        loss2 = info_nce(a, p, gp, negative_weights=w, reduction="sum")
        (loss + loss2).backward()
        torch.save({"loss": loss.detach(), "loss2": loss2.detach(), "ga": ga.detach(),
                    "grad_a": a.grad, "grad_p": p.grad, "world": dist.get_world_size()},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_single_process_is_identity():
    x = torch.randn(4, 3, requires_grad=True)
    assert not is_distributed()
    assert gather_with_grad(x) is x
    w = self_exclusion_weights(4)
    assert torch.equal(w, 1 - torch.eye(4))


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_ranks_match_concatenated_batch(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    res = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    a_all, p_all = _data()
    a, p = a_all.clone().requires_grad_(), p_all.clone().requires_grad_()
    ref = info_nce(a, p, "anchors", reduction="sum")
    ref2 = info_nce(a, p, "positives", reduction="sum")
    (ref + ref2).backward()
    assert all(r["world"] == WORLD for r in res)
    for r in res:
        torch.testing.assert_close(r["ga"], a_all, rtol=0, atol=0)
    torch.testing.assert_close(sum(r["loss"] for r in res), ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sum(r["loss2"] for r in res), ref2.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.cat([r["grad_a"] for r in res]), a.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(torch.cat([r["grad_p"] for r in res]), p.grad, rtol=1e-10, atol=1e-12)
