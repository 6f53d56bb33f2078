"""Which gridworld layouts let eta ignore the lower area? The readings of Section 7.1, compared.

Figure 1c suggests that the GAMPS weighting eta (Lemma 4.1) puts almost no mass on the lower
area, where the policy cannot be improved; on the paper's layout of REPLICATION_SPEC.md it keeps
0.42 of it at pi_b. The mechanism: omega_t = gamma^t rho_{0:t} sum_{l<=t} ||score_l|| (Eq. 3), so
a trajectory that falls from the upper area into the lower one carries the score norm it
accumulated above into every later lower-area step, although pi_b is deterministic there.

For each candidate geometry (where the boundary is, whether it is open along its whole length, at
one column or not at all, where G is) and each reading of mu, at pi_b of each seed, exactly (the
N -> inf limits of ``gamps.bias``): the mass delta and eta put on the lower area; the cosine of
the MVG (Eq. 2) of the GAMPS and ML models fitted on their exact limits with the true gradient,
for the edge-clipped model and the walls-aware one (``model_knows_walls``). The named layouts of
``dynamics.LAYOUTS`` come first. ``--sampled`` adds eta's and delta's lower mass from 1000
trajectories of pi_b, as ``workflow/scripts/lower_area_mass.py`` computes them.

    python benchmarks/gridworld_layouts.py [--seeds 0 ... 19] [--candidates] [--sampled]
"""

import argparse
import itertools

import numpy as np
from common import paper_config

from gamps import algorithms, bias, exact, experiment
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld import gradient_bias as gb
from gamps.domains.gridworld.figure1 import weight_maps


def candidates() -> dict[str, gw.Geometry]:
    """The named layouts, then every combination of boundary row, openings and goal."""
    named = {name: geometry for name, geometry in gw.LAYOUTS.items()}
    openings = {"open": None, "gate c4": (4,), "gate c2": (2,), "wall": ()}
    for rows, (label, gates), goal in itertools.product((2, 3), openings.items(), ((0, 0), (0, 2))):
        geometry = gw.Geometry(upper_rows=rows, goal=goal, openings=gates)
        if geometry not in named.values():
            named[f"upper rows 0-{rows - 1}, {label}, G {goal}"] = geometry
    return named


def measure(
    domains: dict[bool, GridworldDomain], seed: int, q: float, sampled: bool
) -> dict[str, float]:
    """The lower-area masses and the exact-limit cosines at pi_b of one seed; ``domains`` maps
    ``model_knows_walls`` to the domain (one layout)."""
    domain = domains[False]
    theta_b = domain.behaviour_parameters(experiment.rng(seed, 0))
    pi_b = domain.policy.probs(theta_b)
    analysis = bias.BiasAnalysis(domain.mdp, pi_b, q)
    layout = domain.layout
    row = {
        "delta": layout.lower_mass(exact.discounted_occupancy(domain.mdp, pi_b)),
        "eta": layout.lower_mass(analysis.eta),
    }
    for walls, label in ((False, ""), (True, ", walls")):
        for result in gb.exact_rows(domains[walls], analysis, pi_b):
            row[f"{algorithms.label(result['model'])} cos{label}"] = result["cosine"]
    if sampled:
        batch = domain.collect(theta_b, 1000, experiment.rng(seed, 1, 1000))
        delta, eta = weight_maps(domain, domain.policy.table(theta_b), batch, q)
        row |= {"delta, N=1000": layout.lower_mass(delta), "eta, N=1000": layout.lower_mass(eta)}
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(20)))
    parser.add_argument("--candidates", action="store_true", help="also the unnamed geometries")
    parser.add_argument("--sampled", action="store_true", help="also from 1000 trajectories")
    args = parser.parse_args()
    config = paper_config("gridworld")
    geometries = candidates() if args.candidates else dict(gw.LAYOUTS)
    print(
        f"At pi_b of seeds {args.seeds[0]}-{args.seeds[-1]} (mean ± std over seeds): the mass delta"
        " and eta put on the lower area, and the cosine with grad J of the MVG of the GAMPS and ML"
        " models fitted on their exact limits (', walls': model_knows_walls).\n"
    )
    header = None
    for (name, geometry), initial_states in itertools.product(
        geometries.items(), gw.INITIAL_STATES
    ):
        layout = gw.build_layout(geometry, initial_states, name)
        domains = {
            walls: GridworldDomain(
                **experiment.domain_params("gridworld", config) | {"model_knows_walls": walls}
            ).with_layout(layout)
            for walls in (False, True)
        }
        rows = [measure(domains, seed, config["q_norm"], args.sampled) for seed in args.seeds]
        if header is None:
            header = list(rows[0])
            print(f"{'layout':38s} {'mu':8s} " + " ".join(f"{key:>15s}" for key in header))
        cells = [np.array([row[key] for row in rows]) for key in header]
        text = " ".join(f"{v.mean():7.4f} ±{v.std(ddof=1):6.4f}" for v in cells)
        print(f"{name:38s} {initial_states:8s} {text}", flush=True)


if __name__ == "__main__":
    main()
