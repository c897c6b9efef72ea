"""Assembles a GPU run for :class:`trustsim.engine.Simulation`: the world on the device and its phases."""

from __future__ import annotations

from numba import cuda

from trustsim.engine import BackendParts
from trustsim.gpu import require_gpu
from trustsim.gpu.adaptation import DeviceAdaptationPhase
from trustsim.gpu.behaviour import DeviceBehaviourPhase
from trustsim.gpu.common import blocks
from trustsim.gpu.metrics import DeviceReduction
from trustsim.gpu.observation import DeviceObservationPhase
from trustsim.gpu.plan import memory_plan
from trustsim.gpu.sanctions import DeviceSanctionsPhase
from trustsim.gpu.scoring import DeviceScoringPhase
from trustsim.gpu.state import DeviceWorld, device_day
from trustsim.world import World


def device_parts(world: World) -> BackendParts:
    """The world copied to the GPU, a kernel phase for each mechanism, the day's scratch and the metrics' reduction.

    Refuses (:class:`~trustsim.gpu.plan.GpuMemoryError`) a run that does not fit the card.
    """
    scenario = world.scenario
    name, free = require_gpu()
    plan = memory_plan(scenario, world.network.csr_edges, free, name)
    plan.require()
    partial = cuda.device_array(blocks(scenario.run.agents), dtype="float64")  # per-block sums, A and metrics
    phases = {
        "behaviour": DeviceBehaviourPhase(scenario, partial),
        "observation": DeviceObservationPhase(scenario),
        "scoring": DeviceScoringPhase(scenario),
        "sanctions": DeviceSanctionsPhase(scenario),
        "adaptation": DeviceAdaptationPhase(scenario),
    }
    return BackendParts(DeviceWorld.upload(world), phases, device_day(scenario), DeviceReduction(scenario, partial),
                        plan)  # fmt: skip
