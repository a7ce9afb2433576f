"""Energy per operation, by name (a registry, like the presets): what the energy model (``snasnet.measure.energy``)
prices its counts with, in the energy report and in a search's ``energy`` objective.

Each profile gives the energy of one synaptic operation (an accumulate triggered by an input spike,
``e_ac_pj``) and of one multiply-accumulate (``e_mac_pj``: layers fed by non-spike values, like the stem on
the analog image, and the same-shape ANN the report compares with), and the width of a stored value
(``word_bytes``), which sets the memory traffic's bytes. Sources are in each profile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spikingjelly.activation_based.op_counter.analytical_energy import LemaireEnergyCostConfig

from snasnet.core.registry import Registry


@dataclass(frozen=True)
class EnergyProfile:
    name: str
    e_mac_pj: float  # one multiply-accumulate
    e_ac_pj: float  # one synaptic operation (accumulate on a spike)
    source: str
    note: str = ""
    word_bytes: int = 4  # one stored value (weight, activation, potential, spike address): fp32 4, fp16 2, int8 1
    #: ``e_ac_pj`` is a chip's measured energy per synaptic operation, the synapse's and the potential's memory
    #: accesses included: the energy model does not price those accesses again
    sop_includes_memory: bool = False

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
register_profile(EnergyProfile("45nm-fp16", 1.5, 0.4, _HOROWITZ + "fp16 multiply 1.1 pJ + add 0.4 pJ", word_bytes=2))
register_profile(
    EnergyProfile("45nm-int8", 0.23, 0.03, _HOROWITZ + "8-bit integer multiply 0.2 pJ + add 0.03 pJ", word_bytes=1)
)
# Lemaire et al.'s constants, as spikingjelly's LemaireEnergyCostConfig holds them (read from it, not copied)
_LEMAIRE = LemaireEnergyCostConfig()
register_profile(
    EnergyProfile(
        "45nm-int32",
        _LEMAIRE.e_mul_pj + _LEMAIRE.e_add_pj,
        _LEMAIRE.e_add_pj,
        "E. Lemaire et al., 'An analytical estimation of spiking neural networks energy efficiency', ICONIP 2022 "
        f"(arXiv:2210.13107), from Horowitz 2014 (45 nm): 32-bit integer multiply {_LEMAIRE.e_mul_pj} pJ + add "
        f"{_LEMAIRE.e_add_pj} pJ (spikingjelly's LemaireEnergyCostConfig)",
    )
)

# Neuromorphic chips are quoted per synaptic operation, measured on the chip: the synapse's and the potential's
# memory accesses are in the figure. They take spikes, so the layers fed by non-spike values (the stem) and the
# ANN baseline are priced at 45 nm fp32 MACs and SRAM accesses, as if run on a conventional host.
_HOST = (
    "a synaptic operation's memory accesses are in E_AC; layers fed by non-spike values, the neurons' updates "
    "and the ANN are priced at 45 nm fp32 MACs (Horowitz 2014) and SRAM accesses"
)
_COMPILED = "; figure as compiled in Tang et al., 'SENECA', Frontiers in Neuroscience 17, 2023, table 3"
register_profile(
    EnergyProfile(
        "loihi",
        4.6,
        23.6,
        "M. Davies et al., 'Loihi: a neuromorphic manycore processor with on-chip learning', IEEE Micro 38(1), "
        "2018: 23.6 pJ per synaptic spike operation" + _COMPILED,
        _HOST,
        sop_includes_memory=True,
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
        sop_includes_memory=True,
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
        sop_includes_memory=True,
    )
)
