"""Train the MLP: class weighting, early stopping on validation PR-AUC, same seed same model."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sklearn.metrics import average_precision_score

from batch_pipeline.model.net import FraudNet


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    batch_size: int = 2048
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    patience: int = 5
    seed: int = 7


@dataclass
class TrainResult:
    net: FraudNet
    best_epoch: int
    best_val_pr_auc: float
    seconds: float
    pos_weight: float
    history: list[dict[str, float]] = field(default_factory=list)


def _seed(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - torch's own code may draw from the global state
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def predict(
    net: FraudNet, x: npt.NDArray[np.float32], batch: int = 65536
) -> npt.NDArray[np.float32]:
    """Fraud probabilities of the rows of x."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            logits = net(torch.from_numpy(x[start : start + batch]))
            out.append(torch.sigmoid(logits).numpy())
    return np.concatenate(out).astype(np.float32)


def train_mlp(
    x_train: npt.NDArray[np.float32],
    y_train: npt.NDArray[np.float32],
    x_val: npt.NDArray[np.float32],
    y_val: npt.NDArray[np.float32],
    config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen, never mutated
    progress: bool = True,
) -> TrainResult:
    """Fit FraudNet on the training window, keeping the epoch with the best validation PR-AUC.

    Standardisation statistics come from the training window only. Positives are weighted by
    sqrt(negatives / positives): enough to keep the rare class from being ignored, without the
    full ratio's distortion of the scores.
    """
    generator = _seed(config.seed)
    started = time.monotonic()
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    net = FraudNet(mean, std)
    positives = float(y_train.sum())
    pos_weight = math.sqrt((len(y_train) - positives) / positives)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    optimiser = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    best_state, best_auc, best_epoch, stale = copy.deepcopy(net.state_dict()), -1.0, 0, 0
    history: list[dict[str, float]] = []
    columns = (
        TextColumn("epoch {task.completed}/{task.total}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("train", total=config.epochs, status="")
        for epoch in range(1, config.epochs + 1):
            net.train()
            order = torch.randperm(len(xt), generator=generator)
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                idx = order[start : start + config.batch_size]
                optimiser.zero_grad()
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(idx)
            val_auc = float(average_precision_score(y_val, predict(net, x_val)))
            history.append({"epoch": epoch, "loss": total / len(xt), "val_pr_auc": val_auc})
            if val_auc > best_auc:
                best_state, best_auc, best_epoch, stale = (
                    copy.deepcopy(net.state_dict()),
                    val_auc,
                    epoch,
                    0,
                )
            else:
                stale += 1
            bar.update(
                task,
                advance=1,
                status=f"loss {total / len(xt):.4f} val PR-AUC {val_auc:.4f} best {best_auc:.4f}",
            )
            if stale >= config.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return TrainResult(net, best_epoch, best_auc, time.monotonic() - started, pos_weight, history)
