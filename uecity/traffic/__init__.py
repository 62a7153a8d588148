"""SUMO traffic: the junction network, the demand, and the libsumo simulation."""
