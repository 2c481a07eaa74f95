#!/usr/bin/env python
"""Train a tiny class-conditional VAR on scikit-learn's 8×8 handwritten digits (CPU, ~20 min).

Pipeline (everything seeded; torch CPU, 2 threads):

1. data: ``load_digits`` (1797 images, values 0..16) → /16 → bilinear ×2 to 16×16 in [0, 1];
   stratified 80/20 split (``fpqc.eval.digits_classifier.digits_split``, random_state 0).
   The VQVAE sees ``2·x − 1`` replicated to 3 channels (``VARConfig`` has no VQVAE
   ``in_channels`` field, so ``export_var``/``build_models`` always build a 3-channel VQVAE).
2. a multi-scale VQVAE (16×16 image → 8×8×Cvae latent, scales 1,2,3,4,6,8 → L = 130 tokens),
   trained with MSE + VQ loss and dead-code restarts;
3. a class-conditional VAR (C = 128, 2 heads, depth 4, 10 classes, class dropout 0.1 for CFG)
   trained with teacher forcing on the VQVAE's token maps of the training split;
4. a small CNN classifier (``fpqc.eval.digits_classifier.DigitsCNN``) on the training split;
5. artifacts: ``var.onnx`` + ``vae.npz`` (``export_var(route="fpqc", batch=10)``), ``var.pth``,
   ``vae.pth``, ``classifier.pt``, ``inputs.npz`` (teacher-forcing inputs of one held-out digit
   per class), ``samples.png`` (rows = classes 0..9), ``metrics.json``.

Usage::

    python examples/digits/train.py                 # full run, writes examples/digits/
    python examples/digits/train.py --quick --out /tmp/d   # a few steps, smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from fpqc.eval.digits_classifier import DigitsCNN, digits_split
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import INPUT_NAMES, export_var
from fpqc.frontend.var.generate import autoregressive_infer_cfg
from fpqc.frontend.var.transformer import VAR
from fpqc.frontend.var.vqvae import VQVAE

SEED = 0
IMAGE_SIZE = 16
VAE_IN_CHANNELS = 3  # VQVAEConfig default; VARConfig.vae cannot change it


def make_config() -> VARConfig:
    """The shipped model's configuration."""
    return VARConfig(
        depth=4, embed_dim=128, num_heads=2, mlp_ratio=4.0,
        patch_nums=(1, 2, 3, 4, 6, 8), vocab_size=256, Cvae=8,
        num_classes=10, cond_drop_rate=0.1,
        vae_ch=16, vae_ch_mult=(1, 2), vae_num_res_blocks=1, vae_norm_groups=8,
        vae_using_sa=True, vae_using_mid_sa=True,
    )


# ----------------------------------------------------------------------------- helpers
def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def to_vae(x01: torch.Tensor) -> torch.Tensor:
    """[B, 1, S, S] in [0, 1] → VQVAE input [B, 3, S, S] in [-1, 1]."""
    return (x01 * 2 - 1).expand(-1, VAE_IN_CHANNELS, -1, -1).contiguous()


def from_vae(img: torch.Tensor) -> torch.Tensor:
    """VQVAE output [B, 3, S, S] in [-1, 1] → [B, 1, S, S] in [0, 1]."""
    return img.mean(dim=1, keepdim=True).add(1).mul(0.5).clamp(0, 1)


def shift_aug(x: torch.Tensor, g: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Random integer translation by up to ``max_shift`` pixels (zero fill): [B, 1, S, S]."""
    B, _, S, _ = x.shape
    p = max_shift
    xp = F.pad(x, (p, p, p, p))
    dx = torch.randint(0, 2 * p + 1, (B,), generator=g)
    dy = torch.randint(0, 2 * p + 1, (B,), generator=g)
    return torch.stack([xp[i, :, dy[i]:dy[i] + S, dx[i]:dx[i] + S] for i in range(B)])


def cosine_lr(step: int, total: int, base: float, warmup: int, floor: float = 0.02) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def write_png(path: Path, img_HW: np.ndarray) -> None:
    """Write an 8-bit grayscale PNG (no Pillow needed)."""
    a = np.ascontiguousarray(img_HW.astype(np.uint8))
    H, W = a.shape
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(H))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def image_grid(imgs_01: torch.Tensor, rows: int, cols: int, scale: int = 4, pad: int = 2) -> np.ndarray:
    """[rows·cols, 1, S, S] in [0, 1] → uint8 [H, W] grid (nearest-neighbour ×scale, gray borders)."""
    S = imgs_01.shape[-1] * scale
    grid = np.full((rows * (S + pad) + pad, cols * (S + pad) + pad), 96, dtype=np.uint8)
    up = F.interpolate(imgs_01, scale_factor=scale, mode="nearest")[:, 0].numpy()
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        grid[pad + r * (S + pad): pad + r * (S + pad) + S, pad + c * (S + pad): pad + c * (S + pad) + S] = \
            np.round(up[i] * 255).clip(0, 255).astype(np.uint8)
    return grid


def nparams(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# ----------------------------------------------------------------------------- stages
def train_vae(cfg: VARConfig, x_tr: torch.Tensor, x_te: torch.Tensor, steps: int, bs: int, lr: float,
              log: dict) -> VQVAE:
    vae = VQVAE(cfg.vae, seed=SEED)
    vae.train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(SEED + 1)
    V = cfg.vocab_size
    usage = torch.zeros(V)
    t0 = time.time()
    pbar = tqdm(range(steps), desc="vqvae", dynamic_ncols=True, file=sys.stdout)
    ema_rec = ema_vq = None
    for step in pbar:
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, steps, lr, warmup=min(50, steps))
        idx = torch.randint(0, len(x_tr), (bs,), generator=g)
        inp = to_vae(shift_aug(x_tr[idx], g))
        f = vae.quant_conv(vae.encoder(inp))
        f_hat, vq_loss = vae.quantize(f)
        rec = vae.decoder(vae.post_quant_conv(f_hat))
        rec_loss = F.mse_loss(rec, inp)
        loss = rec_loss + vq_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 5.0)
        opt.step()
        ema_rec = rec_loss.item() if ema_rec is None else 0.95 * ema_rec + 0.05 * rec_loss.item()
        ema_vq = vq_loss.item() if ema_vq is None else 0.95 * ema_vq + 0.05 * vq_loss.item()
        # codebook usage and dead-code restart (re-seed unused codes from current residuals)
        with torch.no_grad():
            idx_list = vae.quantize.f_to_idxBl_or_fhat(f.detach(), to_fhat=False)
            all_idx = torch.cat(idx_list, 1).reshape(-1)
            usage.mul_(0.98).add_(torch.bincount(all_idx, minlength=V).float())
            if step % 100 == 99 and step < steps * 0.8:
                dead = (usage < 0.05).nonzero().reshape(-1)
                if len(dead):
                    # candidates: the latent vectors area-pooled at random scales (what the codes see)
                    cands = []
                    for pn in cfg.patch_nums:
                        z = F.interpolate(f.detach(), size=(pn, pn), mode="area")
                        cands.append(z.permute(0, 2, 3, 1).reshape(-1, cfg.Cvae))
                    cands = torch.cat(cands)
                    pick = torch.randint(0, len(cands), (len(dead),), generator=g)
                    noise = torch.randn(len(dead), cfg.Cvae, generator=g) * 0.01
                    vae.quantize.embedding.weight.data[dead] = cands[pick] + noise
                    usage[dead] = 1.0
        pbar.set_postfix(rec=f"{ema_rec:.4f}", vq=f"{ema_vq:.4f}", used=int((usage > 0.05).sum()))
    wall = time.time() - t0
    vae.eval()
    with torch.no_grad():
        rec_te = vae.idxBl_to_img(vae.img_to_idxBl(to_vae(x_te)))
        mse_te = F.mse_loss(from_vae(rec_te), x_te).item()
    log["vae"] = dict(steps=steps, batch=bs, lr=lr, wall_s=round(wall, 1), final_rec_loss_ema=round(ema_rec, 5),
                      final_vq_loss_ema=round(ema_vq, 5), heldout_recon_mse_01=round(mse_te, 5),
                      codes_used=int((usage > 0.05).sum()), params=nparams(vae))
    print(f"[vqvae] {steps} steps in {wall:.1f}s; rec {ema_rec:.4f} vq {ema_vq:.4f}; held-out recon MSE "
          f"(in [0,1]) {mse_te:.5f}; codes used {int((usage > 0.05).sum())}/{V}")
    return vae


@torch.no_grad()
def tokenize(vae: VQVAE, x01: torch.Tensor, bs: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Images → (teacher-forcing input [N, L - 1, Cvae], target token ids [N, L])."""
    xs, ts = [], []
    for i in range(0, len(x01), bs):
        idx_list = vae.img_to_idxBl(to_vae(x01[i:i + bs]))
        xs.append(vae.idxBl_to_var_input(idx_list))
        ts.append(torch.cat(idx_list, dim=1))
    return torch.cat(xs), torch.cat(ts)


@torch.no_grad()
def teacher_forced_acc(var: VAR, x_in: torch.Tensor, tgt: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    was = var.inference
    var.inference = True
    var.eval()
    logits = torch.cat([var(y[i:i + 128], x_in[i:i + 128]) for i in range(0, len(y), 128)])
    var.inference = was
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1)).item()
    acc = (logits.argmax(-1) == tgt).float().mean().item()
    return loss, acc


def train_var(cfg: VARConfig, vae: VQVAE, x_tr, y_tr, x_te, y_te, steps: int, bs: int, lr: float, aug_copies: int,
              log: dict) -> VAR:
    t0 = time.time()
    g = torch.Generator().manual_seed(SEED + 2)
    # token maps of the training images plus `aug_copies` randomly shifted copies of each
    xs, ts, ys = [], [], []
    for c in range(aug_copies + 1):
        imgs = x_tr if c == 0 else shift_aug(x_tr, g)
        xi, ti = tokenize(vae, imgs)
        xs.append(xi), ts.append(ti), ys.append(y_tr)
    X, T, Y = torch.cat(xs), torch.cat(ts), torch.cat(ys)
    Xte, Tte = tokenize(vae, x_te)
    print(f"[var] tokenized {len(Y)} training maps ({aug_copies} shifted copies) in {time.time() - t0:.1f}s")

    var = VAR(cfg, seed=SEED)
    var.train()
    decay, no_decay = [], []
    for n, p in var.named_parameters():
        (no_decay if p.ndim < 2 or "emb" in n or "pos_" in n or "scale_mul" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    t1 = time.time()
    pbar = tqdm(range(steps), desc="var", dynamic_ncols=True, file=sys.stdout)
    ema = None
    perm, pos = torch.randperm(len(Y), generator=g), 0
    for step in pbar:
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, steps, lr, warmup=min(100, steps))
        if pos + bs > len(Y):
            perm, pos = torch.randperm(len(Y), generator=g), 0
        b = perm[pos:pos + bs]
        pos += bs
        logits = var(Y[b], X[b])  # class dropout (cond_drop_rate) applied inside forward
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), T[b].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(var.parameters(), 2.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        pbar.set_postfix(loss=f"{ema:.4f}", lr=f"{opt.param_groups[0]['lr']:.2e}")
        if (steps >= 5 and (step + 1) % (steps // 5) == 0) or step == steps - 1:
            l_te, a_te = teacher_forced_acc(var, Xte, Tte, y_te)
            var.train()
            tqdm.write(f"[var] step {step + 1}: train loss (ema) {ema:.4f}  held-out loss {l_te:.4f} "
                       f"teacher-forced top-1 {a_te:.3f}  ({time.time() - t1:.0f}s)")
    wall = time.time() - t1
    var.eval()
    var.inference = True
    l_tr, a_tr = teacher_forced_acc(var, X[:len(y_tr)], T[:len(y_tr)], y_tr)
    l_te, a_te = teacher_forced_acc(var, Xte, Tte, y_te)
    log["var"] = dict(steps=steps, batch=bs, lr=lr, aug_copies=aug_copies, wall_s=round(wall, 1),
                      final_train_loss_ema=round(ema, 4), train_loss=round(l_tr, 4), train_top1=round(a_tr, 4),
                      heldout_loss=round(l_te, 4), heldout_top1=round(a_te, 4), params=nparams(var))
    print(f"[var] {steps} steps in {wall:.1f}s; train loss {l_tr:.4f} top-1 {a_tr:.3f}; "
          f"held-out loss {l_te:.4f} top-1 {a_te:.3f}")
    return var


def train_classifier(x_tr, y_tr, x_te, y_te, epochs: int, bs: int, lr: float, log: dict) -> DigitsCNN:
    torch.manual_seed(SEED + 3)
    clf = DigitsCNN()
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(SEED + 3)
    steps_per_epoch = math.ceil(len(y_tr) / bs)
    total = epochs * steps_per_epoch
    t0 = time.time()
    step = 0
    for ep in tqdm(range(epochs), desc="classifier", dynamic_ncols=True, file=sys.stdout):
        clf.train()
        perm = torch.randperm(len(y_tr), generator=g)
        tot = 0.0
        for i in range(0, len(y_tr), bs):
            for pg in opt.param_groups:
                pg["lr"] = cosine_lr(step, total, lr, warmup=min(20, total))
            b = perm[i:i + bs]
            loss = F.cross_entropy(clf(shift_aug(x_tr[b], g)), y_tr[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.item() * len(b)
            step += 1
        last = tot / len(y_tr)
    clf.eval()
    acc = (clf.predict(x_te) == y_te).float().mean().item()
    wall = time.time() - t0
    log["classifier"] = dict(epochs=epochs, batch=bs, lr=lr, wall_s=round(wall, 1), final_train_loss=round(last, 4),
                             heldout_acc=round(acc, 4), params=nparams(clf))
    print(f"[classifier] {epochs} epochs in {wall:.1f}s; train loss {last:.4f}; held-out accuracy {acc:.4f}")
    return clf


def make_samples(var: VAR, vae: VQVAE, clf: DigitsCNN, x_te, y_te, args, out: Path, log: dict) -> None:
    """samples.png (rows = classes 0..9) + classifier agreement of generated samples."""
    t0 = time.time()
    B = 10 * args.cols
    labels = torch.arange(10).repeat_interleave(args.cols)
    with torch.no_grad():
        imgs = autoregressive_infer_cfg(var, vae, B, labels, g_seed=SEED, cfg=args.cfg, top_k=args.top_k,
                                        top_p=args.top_p)
    imgs01 = imgs.mean(dim=1, keepdim=True).clamp(0, 1)
    pred = clf.predict(imgs01)
    sample_acc = (pred == labels).float().mean().item()
    per_class = [(pred[labels == c] == c).float().mean().item() for c in range(10)]
    write_png(out / "samples.png", image_grid(imgs01, 10, args.cols))
    # a larger scored batch (not drawn) for a steadier number
    n_big = 10 if args.quick else 50
    big_labels = torch.arange(10).repeat_interleave(n_big)
    with torch.no_grad():
        big = autoregressive_infer_cfg(var, vae, len(big_labels), big_labels, g_seed=SEED + 1, cfg=args.cfg,
                                       top_k=args.top_k, top_p=args.top_p)
    big_acc = (clf.predict(big.mean(1, keepdim=True)) == big_labels).float().mean().item()
    with torch.no_grad():
        rec = from_vae(vae.idxBl_to_img(vae.img_to_idxBl(to_vae(x_te))))
    rec_acc = (clf.predict(rec) == y_te).float().mean().item()
    log["samples"] = dict(cfg=args.cfg, top_k=args.top_k, top_p=args.top_p, g_seed=SEED, grid_acc=round(sample_acc, 4),
                          grid_per_class=[round(a, 3) for a in per_class], n_scored=len(big_labels),
                          scored_acc=round(big_acc, 4), heldout_vae_recon_acc=round(rec_acc, 4),
                          wall_s=round(time.time() - t0, 1))
    print(f"[samples] cfg {args.cfg}: classifier agrees with the requested class on {sample_acc:.3f} of the grid "
          f"(per class {['%.2f' % a for a in per_class]}), {big_acc:.3f} of {len(big_labels)} more samples; "
          f"VQVAE reconstructions of the held-out split: {rec_acc:.3f}")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output directory")
    ap.add_argument("--quick", action="store_true", help="a few steps of everything (smoke test)")
    ap.add_argument("--vae-steps", type=int, default=2000)
    ap.add_argument("--var-steps", type=int, default=1200)
    ap.add_argument("--clf-epochs", type=int, default=30)
    ap.add_argument("--aug-copies", type=int, default=2, help="shifted copies of the training set for VAR")
    ap.add_argument("--cfg", type=float, default=3.0, help="classifier-free guidance of samples.png")
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--top-p", type=float, default=0.0)
    ap.add_argument("--cols", type=int, default=8, help="samples per class in samples.png")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resample", action="store_true",
                    help="no training: load var.pth/vae.pth/classifier.pt from --out, redo samples.png and metrics")
    args = ap.parse_args(argv)
    if args.quick:
        args.vae_steps, args.var_steps, args.clf_epochs, args.aug_copies = 3, 3, 1, 0

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    seed_all(SEED)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.time()
    cfg = make_config()
    log: dict = {"config": cfg.to_dict(), "vae_in_channels": VAE_IN_CHANNELS, "seed": SEED,
                 "args": {k: v for k, v in vars(args).items() if k != "out"}}

    split = digits_split(IMAGE_SIZE)
    x_tr, y_tr, x_te, y_te = split.x_train, split.y_train, split.x_test, split.y_test
    idx_te = split.idx_test  # indices into load_digits()
    if args.resample:
        from fpqc.eval.digits_classifier import load_digits_classifier
        from fpqc.frontend.var.export import build_models

        var, vae = build_models(cfg, out / "var.pth", out / "vae.pth", seed=SEED)
        var.inference = True
        clf = load_digits_classifier(out / "classifier.pt")
        mpath = out / "metrics.json"
        log = json.loads(mpath.read_text()) if mpath.exists() else log
        log["args"].update({k: v for k, v in vars(args).items() if k not in ("out", "resample")})
        make_samples(var, vae, clf, x_te, y_te, args, out, log)
        mpath.write_text(json.dumps(log, indent=2) + "\n")
        return 0
    if args.quick:  # small subsets keep the smoke test to a few seconds (6 held-out digits per class)
        x_tr, y_tr = x_tr[:128], y_tr[:128]
        keep = torch.cat([(y_te == c).nonzero()[:6, 0] for c in range(10)]).sort().values
        x_te, y_te, idx_te = x_te[keep], y_te[keep], idx_te[keep.numpy()]
    print(f"data: train {tuple(x_tr.shape)}, held-out {tuple(x_te.shape)}; L={cfg.L} tokens, V={cfg.vocab_size}")

    vae = train_vae(cfg, x_tr, x_te, args.vae_steps, bs=64, lr=2e-3, log=log)
    var = train_var(cfg, vae, x_tr, y_tr, x_te, y_te, args.var_steps, bs=64, lr=2e-3,
                    aug_copies=args.aug_copies, log=log)
    clf = train_classifier(x_tr, y_tr, x_te, y_te, args.clf_epochs, bs=64, lr=2e-3, log=log)

    # ---- artifacts
    var_sd = {k: v.detach().clone() for k, v in var.state_dict().items()}
    vae_sd = {k: v.detach().clone() for k, v in vae.state_dict().items()}
    torch.save(var_sd, out / "var.pth")
    torch.save(vae_sd, out / "vae.pth")
    torch.save(clf.state_dict(), out / "classifier.pt")
    onnx_path = export_var(cfg, out, var_state=var_sd, vae_state=vae_sd, route="fpqc", batch=10, seed=SEED)

    # teacher-forcing inputs: the first held-out image of each class 0..9
    pick = [int((y_te == c).nonzero()[0, 0]) for c in range(10)]
    label_B = torch.arange(10, dtype=torch.long)
    with torch.no_grad():
        x_in = vae.idxBl_to_var_input(vae.img_to_idxBl(to_vae(x_te[pick]))).float()
    np.savez(out / "inputs.npz", **{INPUT_NAMES[0]: label_B.numpy(), INPUT_NAMES[1]: x_in.numpy()},
             heldout_index=idx_te[pick])
    with torch.no_grad():
        ref_logits = var(label_B, x_in)
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        ort_logits = sess.run(None, {INPUT_NAMES[0]: label_B.numpy(), INPUT_NAMES[1]: x_in.numpy()})[0]
        diff = float(np.abs(ort_logits - ref_logits.numpy()).max())
        log["onnx_max_abs_diff_vs_torch"] = diff
        print(f"[export] onnxruntime vs torch logits: max |diff| = {diff:.2e}")
    except ImportError:
        pass

    make_samples(var, vae, clf, x_te, y_te, args, out, log)

    log["total_wall_s"] = round(time.time() - t_all, 1)
    log["artifact_bytes"] = {p.name: p.stat().st_size for p in sorted(out.iterdir())
                             if p.is_file() and p.suffix in (".onnx", ".npz", ".pth", ".pt", ".png")}
    (out / "metrics.json").write_text(json.dumps(log, indent=2) + "\n")
    print(f"done in {log['total_wall_s']:.1f}s → {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
