"""The energy profiles the report offers (``--profile``): the registry lives beside the energy model in
``snasnet.measure.energy_profiles``, since a search prices its candidates with the same profiles."""

from snasnet.measure.energy_profiles import PROFILES, EnergyProfile, get_profile, list_profiles, register_profile

__all__ = ["PROFILES", "EnergyProfile", "get_profile", "list_profiles", "register_profile"]
