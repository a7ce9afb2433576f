"""Energy per operation, by name (a registry, like the presets): what an energy report prices its counts with.

Each profile gives the energy of one synaptic operation (an accumulate triggered by an input spike,
``e_ac_pj``) and of one multiply-accumulate (``e_mac_pj``: layers fed by non-spike values, like the stem on
the analog image, and the same-shape ANN the report compares with). Sources are in each profile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from snasnet.core.registry import Registry


@dataclass(frozen=True)
class EnergyProfile:
    name: str
    e_mac_pj: float  # one multiply-accumulate
    e_ac_pj: float  # one synaptic operation (accumulate on a spike)
    source: str
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES: Registry[EnergyProfile] = Registry("energy profile")


def register_profile(profile: EnergyProfile) -> EnergyProfile:
    return PROFILES.add(profile.name, profile)


def list_profiles() -> list[str]:
    return PROFILES.names()


def get_profile(name: str | EnergyProfile) -> EnergyProfile:
    return name if isinstance(name, EnergyProfile) else PROFILES.get(name)


_HOROWITZ = "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, 45 nm CMOS, 0.9 V: "
# MAC = multiply + add; a synaptic operation is the add alone.
register_profile(EnergyProfile("45nm-fp32", 4.6, 0.9, _HOROWITZ + "fp32 multiply 3.7 pJ + add 0.9 pJ"))
register_profile(EnergyProfile("45nm-fp16", 1.5, 0.4, _HOROWITZ + "fp16 multiply 1.1 pJ + add 0.4 pJ"))
register_profile(EnergyProfile("45nm-int8", 0.23, 0.03, _HOROWITZ + "8-bit integer multiply 0.2 pJ + add 0.03 pJ"))

# Neuromorphic chips are quoted per synaptic operation. They take spikes, so the layers fed by non-spike
# values (the stem) and the ANN baseline are priced at 45 nm fp32 MACs, as if run on a conventional host.
_HOST = "layers fed by non-spike values and the ANN are priced at 45 nm fp32 MACs (Horowitz 2014)"
_COMPILED = "; figure as compiled in Tang et al., 'SENECA', Frontiers in Neuroscience 17, 2023, table 3"
register_profile(
    EnergyProfile(
        "loihi",
        4.6,
        23.6,
        "M. Davies et al., 'Loihi: a neuromorphic manycore processor with on-chip learning', IEEE Micro 38(1), "
        "2018: 23.6 pJ per synaptic spike operation" + _COMPILED,
        _HOST,
    )
)
register_profile(
    EnergyProfile(
        "spinnaker2",
        4.6,
        10.0,
        "S. Hoppner et al., 'The SpiNNaker 2 processing element architecture for hybrid digital neuromorphic "
        "computing', arXiv, 2021: 10 pJ per synaptic operation" + _COMPILED,
        _HOST,
    )
)
register_profile(
    EnergyProfile(
        "truenorth",
        4.6,
        2.5,
        "F. Akopyan et al., 'TrueNorth: design and tool flow of a 65 mW 1 million neuron programmable "
        "neurosynaptic chip', IEEE TCAD 34(10), 2015: 2.5 pJ per synaptic operation (the chip's best case, "
        "400 GSOPS/W)" + _COMPILED,
        _HOST,
    )
)
