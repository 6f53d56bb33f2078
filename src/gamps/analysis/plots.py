"""Figures 1 to 3 of the paper and Figure 4 (beyond the paper), drawn with seaborn from the tidy
CSVs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .. import algorithms, io  # noqa: E402
from ..domains.gridworld import dynamics as gw  # noqa: E402
from .tables import bias_ratios  # noqa: E402

#: One colour per algorithm, by display name, in registry order.
PALETTE = dict(
    zip(
        map(algorithms.label, algorithms.REGISTRY),
        sns.color_palette("colorblind", len(algorithms.REGISTRY)),
        strict=True,
    )
)
# Fixed metadata keep the PDF bytes identical from run to run.
PDF_METADATA = {"CreationDate": None, "Creator": None, "Producer": None}


def save(fig, paths, note: str = "") -> None:
    """Save a figure to each path (PDF, PNG), atomically, with fixed metadata; a non-empty
    ``note`` (the config's ``scale_note``, e.g. toy scale) is printed below the plot."""
    if note:
        fig.text(0.5, 0, note, ha="center", va="top", color="firebrick", weight="bold")
    io.save_figure(
        fig,
        paths,
        pdf={"metadata": PDF_METADATA, "bbox_inches": "tight"},
        png={"dpi": 150, "bbox_inches": "tight"},
    )
    plt.close(fig)


def _grid_map(ax) -> None:
    """Figure 1a: the two areas, the goal G and the initial states mu."""
    area = np.where(np.arange(gw.N_ROWS)[:, None] <= gw.UPPER_ROWS[-1], 1.0, 0.0)
    area = np.repeat(area, gw.N_COLS, axis=1)
    ax.imshow(area, cmap=matplotlib.colors.ListedColormap(["#cfe3c8", "#c8d8ef"]), vmin=0, vmax=1)
    mu = gw.MU.reshape(gw.N_ROWS, gw.N_COLS)
    for (row, col), p in np.ndenumerate(mu):
        if (row, col) == gw.cell(gw.GOAL):
            ax.text(col, row, "G", ha="center", va="center", fontsize=14, fontweight="bold")
        elif p > 0:
            ax.text(col, row, "μ", ha="center", va="center", fontsize=12)
    ax.axhline(gw.UPPER_ROWS[-1] + 0.5, color="k", lw=2)
    ax.set_xticks(np.arange(gw.N_COLS) - 0.5, minor=True)
    ax.set_yticks(np.arange(gw.N_ROWS) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.legend(
        handles=[
            mpatches.Patch(color="#c8d8ef", label="upper area (actions reversed)"),
            mpatches.Patch(color="#cfe3c8", label="lower area (no way back up)"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        fontsize=7,
        frameon=False,
    )
    ax.set_title("(a) two-areas gridworld")


def figure1(weights: pd.DataFrame, actions, paths, note: str = "") -> None:
    """Figure 1: (a) the map; (b) delta and (c) eta as 5 x 5 heat maps for two actions."""
    fig, axes = plt.subplots(
        1, 6, figsize=(17, 3.8), gridspec_kw={"wspace": 0.25, "width_ratios": [1, 1, 1, 1, 1, 0.06]}
    )
    _grid_map(axes[0])
    panels = [
        ("delta", "(b) δ: empirical state-action distribution"),
        ("eta", "(c) η: GAMPS weights"),
    ]
    shown = weights[weights["action"].isin(actions)]
    vmax = shown[["delta", "eta"]].to_numpy().max()
    lower = weights["row"] > gw.UPPER_ROWS[-1]
    for i, (column, title) in enumerate(panels):
        for j, action in enumerate(actions):
            ax = axes[1 + 2 * i + j]
            grid = weights[weights["action"] == action].pivot(
                index="row", columns="col", values=column
            )
            sns.heatmap(
                grid,
                ax=ax,
                vmin=0,
                vmax=vmax,
                cmap="rocket_r",
                annot=True,
                fmt=".2f",
                annot_kws={"fontsize": 7},
                cbar=(i == 1 and j == 1),
                cbar_ax=axes[5],
                square=True,
            )
            ax.axhline(gw.UPPER_ROWS[-1] + 1, color="k", lw=2)
            ax.set_title(f"action {action}", fontsize=10)
            ax.set_xlabel("column")
            ax.set_ylabel("row" if j == 0 else "")
        left, right = axes[1 + 2 * i].get_position(), axes[2 + 2 * i].get_position()
        mass = weights.loc[lower, column].sum()
        fig.text(
            (left.x0 + right.x1) / 2,
            left.y1 + 0.1,
            f"{title}\n(mass on the lower area, all actions: {mass:.2f})",
            ha="center",
            va="bottom",
            fontsize=11,
        )
    save(fig, paths, note)


def figure2(curves: pd.DataFrame, paths, note: str = "") -> None:
    """Figure 2: return against iteration, one panel per N, mean +- std over runs."""
    data = curves.assign(algorithm=curves["algorithm"].map(algorithms.label))
    grid = sns.relplot(
        data=data,
        kind="line",
        x="iteration",
        y="return",
        hue="algorithm",
        col="n_trajectories",
        errorbar="sd",
        palette=PALETTE,
        hue_order=[a for a in PALETTE if a in set(data["algorithm"])],
        height=3.4,
        aspect=1.1,
        facet_kws={"sharey": False},
    )
    grid.set_titles("N = {col_name} trajectories")
    grid.set_axis_labels("iteration", "expected return J(θ)")
    runs = curves.groupby("n_trajectories")["seed"].nunique().max()
    grid.figure.suptitle(f"Gridworld: mean ± std over {runs} runs", y=1.03)
    save(grid.figure, paths, note)


def figure3(curves: dict[str, pd.DataFrame], paths, note: str = "") -> None:
    """Figure 3: return against iteration, one column per continuous domain, mean +- std over
    runs; below, for the minigolf, the fraction of evaluation episodes that end in the hole."""
    fig, axes = plt.subplots(
        2,
        len(curves),
        figsize=(5.2 * len(curves), 6.4),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [2, 1]},
    )
    for col, (env, data) in enumerate(curves.items()):
        data = data.assign(algorithm=data["algorithm"].map(algorithms.label))
        order = [a for a in PALETTE if a in set(data["algorithm"])]
        n = ", ".join(str(v) for v in sorted(data["n_trajectories"].unique()))
        runs = data.groupby("n_trajectories")["seed"].nunique().max()
        rows = [("return", "expected return J(θ)"), ("hole_rate", "fraction holed")]
        for row, (metric, label) in enumerate(rows):
            ax = axes[row, col]
            if metric not in data.columns:
                ax.set_visible(False)
                continue
            sns.lineplot(
                data=data,
                x="iteration",
                y=metric,
                hue="algorithm",
                hue_order=order,
                palette=PALETTE,
                errorbar="sd",
                ax=ax,
                legend=row == 0,
            )
            ax.set_ylabel(label)
        axes[0, col].set_title(f"{env}\nN = {n} trajectories, {runs} runs (mean ± std)")
        if "hole_rate" in data.columns:
            axes[1, col].set_ylim(0, 1)
        else:  # the top panel is this column's last: give it the iteration axis
            axes[0, col].tick_params(labelbottom=True)
            axes[0, col].set_xlabel("iteration")
            axes[0, col].xaxis.label.set_visible(True)
    save(fig, paths, note)


def _clean_legend(ax, headers=(), **kwargs) -> None:
    """Redraw an axis legend without seaborn's section titles (the column names)."""
    handles, labels = ax.get_legend_handles_labels()
    kept = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab not in headers]
    ax.legend(*zip(*kept, strict=True), title=None, **kwargs)


def figure4(table: pd.DataFrame, paths, note: str = "") -> None:
    """Figure 4 (beyond the paper): exact gradient bias of the ML and GAMPS models.

    (a) relative error and (b) cosine of the MVG at the behaviour policies against N (bands:
    mean +- std over runs; dashed: the exact-weights limit), (c) cosine along the GAMPS learning
    paths, (d) Theorem 3.2's bound (and its form before Pinsker's inequality) against the realised
    bias.
    """
    t = bias_ratios(table)
    t = t.assign(label=t["model"].map(algorithms.label))
    palette = {label: PALETTE[label] for label in ("ML", "GAMPS")}
    order = list(palette)
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.9), gridspec_kw={"wspace": 0.32})
    behaviour = t[t["policy"] == "behaviour"]
    sample, exact_fit = behaviour["weights"] == "sample", behaviour["weights"] == "exact"
    style = {"hue": "label", "hue_order": order, "palette": palette}
    for ax, metric, ylabel in (
        (axes[0], "relative_bias", "‖∇J − ∇ᴹⱽᴳJ‖₂ / ‖∇J‖₂"),
        (axes[1], "cosine", "cos(∇J, ∇ᴹⱽᴳJ)"),
    ):
        sns.lineplot(
            data=behaviour[sample],
            x="n_trajectories",
            y=metric,
            errorbar="sd",
            marker="o",
            ax=ax,
            **style,
        )
        for label, value in behaviour[exact_fit].groupby("label")[metric].mean().items():
            ax.axhline(value, color=palette[label], ls="--", lw=1.2)
        ax.set_xscale("log")
        ax.set_xlabel("N trajectories of π_b")
        ax.set_ylabel(ylabel)
        _clean_legend(ax, fontsize=8)
    axes[0].set_title("(a) MVG error at π_b\n(dashed: exact weights, N → ∞)", fontsize=10)
    axes[1].set_title("(b) MVG direction at π_b\n(dashed: exact weights, N → ∞)", fontsize=10)
    axes[1].axhline(0.0, color="grey", lw=0.8)
    axes[1].set_ylim(-1.02, 1.02)

    path = t[t["policy"] == "gamps_path"]
    if len(path):
        n_path = path["n_trajectories"].max()
        fits = {"sample": f"fitted on the {n_path} trajectories", "exact": "exact weights"}
        shown = path[path["n_trajectories"] == n_path]
        shown = shown.assign(fit=shown["weights"].map(fits))
        sns.lineplot(
            data=shown,
            x="iteration",
            y="cosine",
            style="fit",
            style_order=list(fits.values()),
            errorbar="sd",
            ax=axes[2],
            **style,
        )
        axes[2].axhline(0.0, color="grey", lw=0.8)
        axes[2].set_ylim(-1.02, 1.02)
        _clean_legend(axes[2], ("label", "fit"), fontsize=7, loc="lower left")
        axes[2].set_title(f"(c) along the GAMPS learning paths\nN = {n_path}", fontsize=10)
    axes[2].set_ylabel("cos(∇J, ∇ᴹⱽᴳJ)")

    kinds = {"bound": "Theorem 3.2", "bound_l1": "before Pinsker"}
    bounds = t.melt(
        id_vars=["label", "bias"], value_vars=list(kinds), var_name="kind", value_name="value"
    )
    bounds = bounds[np.isfinite(bounds["value"])].assign(kind=lambda b: b["kind"].map(kinds))
    sns.scatterplot(
        data=bounds,
        x="bias",
        y="value",
        style="kind",
        style_order=list(kinds.values()),
        s=12,
        alpha=0.5,
        linewidth=0,
        rasterized=True,  # thousands of points: a light PDF
        ax=axes[3],
        **style,
    )
    low = min(bounds["bias"].min(), bounds["value"].min())
    high = max(bounds["bias"].max(), bounds["value"].max())
    axes[3].plot([low, high], [low, high], color="k", lw=1, label="bound = bias")
    axes[3].set_xscale("log")
    axes[3].set_yscale("log")
    axes[3].set_xlabel("realised bias ‖∇J − ∇ᴹⱽᴳJ‖₂")
    axes[3].set_ylabel("bound (finite horizon, q = 2)")
    held = int((t["bound_ratio"] >= 1).sum())
    infinite = int(np.isinf(t["bound"]).sum())
    axes[3].set_title(
        f"(d) Theorem 3.2 ≥ bias in {held}/{len(t)} cases\n({infinite} infinite bounds not drawn)",
        fontsize=10,
    )
    _clean_legend(axes[3], ("label", "kind"), fontsize=7, markerscale=1.5, loc="lower right")
    runs = behaviour.loc[sample].groupby(["seed", "repetition"]).ngroups
    fig.suptitle(
        f"Gridworld, beyond the paper: exact bias of the model-value-based gradient "
        f"({behaviour['seed'].nunique()} seeds, {runs} datasets per N)",
        y=1.04,
    )
    save(fig, paths, note)


def _sensitivity_panels(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The columns of Figure 5: one per environment, and per N where it has several."""
    panels = []
    for env, data in runs.groupby("env", sort=False):
        sizes = sorted(data["n_trajectories"].unique())
        for n in sizes:
            title = f"{env}, N = {n}" if len(sizes) > 1 else f"{env} (N = {n})"
            panels.append((title, data[data["n_trajectories"] == n]))
    return panels


def figure5(runs: pd.DataFrame, tables: pd.DataFrame, paths, note: str = "") -> None:
    """Figure 5 (beyond the paper): final return against step size, a line per algorithm, a
    column per environment (and N), a row per update rule; mean and 95% bootstrap CI over the
    tuning seeds. A star marks each algorithm's selected step size (scored over every N); a
    missing point is a step size whose runs diverged."""
    from ..ascent import UPDATES

    runs = runs.assign(algorithm=runs["algorithm"].map(algorithms.label))
    chosen = tables[tables["selected"]].assign(
        algorithm=lambda t: t["algorithm"].map(algorithms.label)
    )
    updates = [u for u in UPDATES if u in set(runs["update"])]
    panels = _sensitivity_panels(runs)
    fig, axes = plt.subplots(
        len(updates),
        len(panels),
        figsize=(3.4 * len(panels), 2.8 * len(updates)),
        squeeze=False,
        sharey="col",
    )
    order = [a for a in PALETTE if a in set(runs["algorithm"])]
    for col, (title, data) in enumerate(panels):
        for row, update in enumerate(updates):
            ax = axes[row, col]
            subset = data[data["update"] == update]
            sns.lineplot(
                data=subset,
                x="step_size",
                y="final_return",
                hue="algorithm",
                hue_order=order,
                palette=PALETTE,
                errorbar=("ci", 95),
                err_style="bars",
                n_boot=1000,
                seed=0,
                marker="o",
                ax=ax,
                legend=row == 0 and col == 0,
            )
            means = subset.groupby(["algorithm", "step_size"])["final_return"].mean()
            env = data["env"].iloc[0]
            for pick in chosen[(chosen["env"] == env) & (chosen["update"] == update)].itertuples():
                key = (pick.algorithm, pick.step_size)
                if key in means.index:
                    ax.plot(
                        pick.step_size,
                        means[key],
                        "*",
                        ms=13,
                        color=PALETTE[pick.algorithm],
                        mec="k",
                        zorder=5,
                    )
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
            ax.set_xlabel("step size α" if row == len(updates) - 1 else "")
            ax.set_ylabel(f"{update} update\nfinal return J(θ_K)" if col == 0 else "")
            if row == 0:
                ax.set_title(title)
    seeds = runs.groupby("env")["seed"].nunique()
    fig.suptitle(
        "Step-size sensitivity on the tuning seeds ("
        + ", ".join(f"{env}: {k} seeds" for env, k in seeds.items())
        + "); ★ selected",
        y=1.01,
    )
    fig.tight_layout()
    save(fig, paths, note)


#: Figure 6's colours: one per verdict, and grey where a reading does not rerun a statement.
NOT_RERUN = "not rerun"
#: A statement's identity across readings (``robustness.KEY``; not imported: redrawing a figure
#: does not depend on the decision code).
STATEMENT = ["claim", "env", "statement", "n_trajectories"]
VERDICT_COLOURS = {
    "replicated": "#4c9a5b",
    "inconclusive": "#f0d264",
    "not replicated": "#c8553d",
    NOT_RERUN: "#dddddd",
}


def figure6(verdicts: pd.DataFrame, paths, note: str = "") -> None:
    """Figure 6 (beyond the paper): every statement's verdict (rows, grouped by claim) under the
    main replication and each reading (columns, in the table's order: main first), coloured by
    verdict; grey where a reading does not rerun the statement's environment, a dot where the
    verdict differs from main's."""
    readings = list(dict.fromkeys(verdicts["reading"]))
    rows = verdicts[STATEMENT].drop_duplicates().sort_values("claim", kind="stable")
    index = pd.MultiIndex.from_frame(rows)
    grid = verdicts.set_index([*STATEMENT, "reading"])["verdict"].unstack("reading")
    grid = grid.reindex(index=index, columns=readings).fillna(NOT_RERUN)
    names = list(VERDICT_COLOURS)
    codes = grid.map(names.index).to_numpy()
    fig, ax = plt.subplots(figsize=(6.5 + 0.45 * len(readings), 1.6 + 0.24 * len(rows)))
    ax.pcolormesh(
        codes,
        cmap=matplotlib.colors.ListedColormap(list(VERDICT_COLOURS.values())),
        vmin=-0.5,
        vmax=len(names) - 0.5,
        edgecolors="white",
        linewidth=1,
    )
    if readings:
        main = grid[readings[0]].to_numpy()
        differs = (grid.to_numpy() != main[:, None]) & (grid.to_numpy() != NOT_RERUN)
        y, x = np.nonzero(differs)
        ax.plot(x + 0.5, y + 0.5, "o", color="k", ms=3.5, label="differs from main")
    claims = rows["claim"].to_numpy()
    for boundary in np.nonzero(claims[1:] != claims[:-1])[0] + 1:
        ax.axhline(float(boundary), color="k", lw=1.2)
    labels = [
        f"claim {r.claim} · {r.statement}"
        + ("" if pd.isna(r.n_trajectories) else f" (N = {r.n_trajectories})")
        for r in rows.itertuples()
    ]
    ax.set_yticks(np.arange(len(rows)) + 0.5, labels, fontsize=7)
    ax.set_xticks(np.arange(len(readings)) + 0.5, readings, rotation=45, ha="right", fontsize=8)
    ax.set_xlim(0, len(readings))
    ax.set_ylim(len(rows), 0)
    ax.tick_params(length=0)
    handles: list = [mpatches.Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    handles += ax.get_legend_handles_labels()[0]
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(handles),
        fontsize=7,
        frameon=False,
    )
    ax.set_title("Verdict of every statement under each reading", pad=22)
    save(fig, paths, note)
