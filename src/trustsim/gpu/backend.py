"""Assembles a GPU run for :class:`trustsim.engine.Simulation`: the world on the device and its phases."""

from __future__ import annotations

from trustsim.gpu import require_gpu
from trustsim.gpu.adaptation import DeviceAdaptationPhase
from trustsim.gpu.behaviour import DeviceBehaviourPhase
from trustsim.gpu.metrics import DeviceMetrics
from trustsim.gpu.observation import DeviceObservationPhase
from trustsim.gpu.plan import GpuMemoryPlan, memory_plan
from trustsim.gpu.sanctions import DeviceSanctionsPhase
from trustsim.gpu.scoring import DeviceScoringPhase
from trustsim.gpu.state import DeviceDay, DeviceWorld
from trustsim.world import World

DevicePhase = (
    DeviceBehaviourPhase | DeviceObservationPhase | DeviceScoringPhase | DeviceSanctionsPhase | DeviceAdaptationPhase
)


def device_parts(
    world: World,
) -> tuple[DeviceWorld, tuple[DevicePhase, ...], DeviceDay, DeviceMetrics, GpuMemoryPlan]:
    """The world copied to the GPU, phases A→E as kernels, the day's scratch, the metrics and the memory plan.

    Refuses (:class:`~trustsim.gpu.plan.GpuMemoryError`) a run that does not fit the card.
    """
    scenario = world.scenario
    name, free = require_gpu()
    plan = memory_plan(scenario, world.network.n_edges, free, name)
    plan.require()
    phases = (
        DeviceBehaviourPhase(scenario),  # A, MODEL.md §3
        DeviceObservationPhase(scenario),  # B, §4
        DeviceScoringPhase(scenario),  # C, §5
        DeviceSanctionsPhase(scenario),  # D, §6
        DeviceAdaptationPhase(scenario),  # E, §7
    )
    device_world = DeviceWorld.upload(world)
    return device_world, phases, DeviceDay.allocate(scenario), DeviceMetrics(scenario, scenario.run.days), plan
