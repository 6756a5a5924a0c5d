"""The data card's privacy section: the formal guarantee in plain words (or that there is none), the budget split,
the public inputs and what the guarantee does not cover (`manifest["differential_privacy"]`)."""

from __future__ import annotations

import html

EMPIRICAL = ("exact matches, distance to closest record, a membership-inference attack, anonymeter's singling-out, "
             "linkability and inference attacks, planted canaries")
MECHANISM_NAMES = {"marginals": "noisy histograms (vocabularies, bounds, principal-diagnosis distribution)",
                   "autoencoder": "autoencoder, DP-SGD", "critic": "GAN critic, DP-SGD (the generator only sees it)"}


def privacy_section(manifest: dict, table) -> str:
    """HTML of the section; `table(rows, columns)` renders rows like the rest of the card."""
    dp = manifest.get("differential_privacy")
    kind = manifest.get("spec", {}).get("synthesizer", {}).get("kind", "latent_gan")
    if not dp:
        return ("<h2>Privacy guarantee</h2><p><strong>No formal guarantee.</strong> The synthesizer of this release "
                f"(<code>{html.escape(kind)}</code>) does not train with differential privacy. The privacy figures "
                f"on this card are empirical tests ({EMPIRICAL}): they show what these attacks found, not what "
                "every attacker could learn. For a formal guarantee use <code>synthesizer.kind: dp_mst</code> or "
                "<code>dp_latent_gan</code> with <code>privacy.dp_epsilon</code>.</p>")
    unit, mst = html.escape(dp["unit"]), dp.get("kind") == "dp_mst"
    plain = (f"<p><strong>({dp['epsilon']:g}, {dp['delta']:.2g})-differential privacy per {unit}.</strong> "
             f"Whether or not any one {unit} of the training split was used, everything the synthesizer learned and "
             f"every statistic synthesis took from the data is almost equally likely: no outcome becomes more than "
             f"e<sup>ε</sup> = {2.718281828 ** dp['epsilon']:.3g} times likelier, except with probability δ. So the "
             f"synthetic rows, however they are analysed or combined with other data, cannot reveal much more about "
             f"that {unit} than a release trained without it would. The accountant "
             f"({html.escape(dp['accountant'])}) composes all mechanisms: ε spent {dp['epsilon_spent']:.3f} of "
             f"{dp['epsilon']:g}, δ = {dp['delta_rdp']:.2g} ({'zCDP' if mst else 'Rényi'} accounting) + {dp['delta_threshold']:.2g} "
             "(releasing procedure, DRG and specialty keys only above a noise threshold).</p>")
    if dp.get("noise_seed") is not None:
        plain = ("<p><strong>No guarantee holds: the noise was drawn from <code>privacy.dp_noise_seed</code> "
                 f"{dp['noise_seed']}</strong> (a test setting), so whoever knows the seed can replay and subtract "
                 "it. Without that setting the mechanisms below would give:</p>" + plain)
    if dp["unit"] == "claim":
        plain += ("<p>The unit is one claim: a patient with k claims in the training split is protected only at "
                  "about k·ε.</p>")
    rows = [{"mechanism": MECHANISM_NAMES.get(m, m), "share of ε": dp["split"][m],
             "noise multiplier": dp["noise_multipliers"][m], "sample rate": dp["sample_rates"][m],
             "steps": dp["steps"][m]} for m in dp.get("split", {})]
    if mst:  # MST: three thirds of ρ (zCDP)
        rows = [{"mechanism": name, "share of ρ": "1/3", "noise": noise, "measurements": dp["measurements"][key]}
                for name, noise, key in (
                    ("1-way marginals (Gaussian)", f"σ = {dp['sigma_one_way']:.3g}", "one_way"),
                    ("spanning tree (exponential mechanism)", f"ε per pick {dp['epsilon_exponential']:.3g}",
                     "tree_selections"),
                    ("tree's 2-way marginals (Gaussian)", f"σ = {dp['sigma_two_way']:.3g}", "two_way"))]
    inputs = "".join(f"<li>{html.escape(item)}</li>" for item in dp["public_inputs"])
    inputs += f"<li>diagnosis codes: {html.escape(dp.get('diagnosis_domain', ''))}</li>"
    gaps = "".join(f"<li>{html.escape(item)}</li>" for item in dp["not_covered"])
    return ("<h2>Privacy guarantee</h2>" + plain
            + f"<p>Mechanism: {html.escape(dp['mechanism'])}; "
            + ("" if mst else f"clipping norm {dp['max_grad_norm']:g}; ")
            + f"{dp['rows']:,} bounded training rows; noise from {html.escape(dp['noise_source'])}.</p>"
            + table(rows, list(rows[0])) + f"<h3>Taken from public information, not from the data</h3><ul>{inputs}</ul>"
            + f"<h3>Not covered by the guarantee</h3><ul>{gaps}</ul>"
            + f"<p>The empirical privacy figures ({EMPIRICAL}) are reported as well, in the gates above.</p>")
