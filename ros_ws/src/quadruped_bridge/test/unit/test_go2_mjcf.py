"""quadruped_bridge.go2_mjcf: the Go2 scene's structure, figures and refusals (compiled, not simulated)."""

import mujoco
import numpy as np
import pytest
from fog_contract.go2 import JOINT_LOWER, JOINT_NAMES, JOINT_UPPER, LEGS, TORQUE_LIMITS, TOTAL_MASS
from quadruped_bridge.go2_mjcf import CUBE_MASS, actuator_ids, go2_mjcf, go2_model, joint_addresses


def test_model_joints_limits_actuators_by_name():
    model = go2_model()
    qpos_adr, qvel_adr = joint_addresses(model, JOINT_NAMES)
    acts = actuator_ids(model, JOINT_NAMES)
    for i, name in enumerate(JOINT_NAMES):
        joint = model.joint(name)
        assert joint.type[0] == mujoco.mjtJoint.mjJNT_HINGE
        assert model.jnt_qposadr[joint.id] == qpos_adr[i] and model.jnt_dofadr[joint.id] == qvel_adr[i]
        np.testing.assert_allclose(model.jnt_range[joint.id], (JOINT_LOWER[i], JOINT_UPPER[i]))
        assert model.actuator_trnid[acts[i], 0] == joint.id
        np.testing.assert_allclose(model.actuator_ctrlrange[acts[i]], (-TORQUE_LIMITS[i], TORQUE_LIMITS[i]))
        assert model.dof_damping[qvel_adr[i]] == pytest.approx(2.0)
        assert model.dof_armature[qvel_adr[i]] == pytest.approx(0.01)
        assert model.dof_frictionloss[qvel_adr[i]] == pytest.approx(0.2)
    assert model.opt.timestep == pytest.approx(0.002)
    assert model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    assert model.opt.impratio == pytest.approx(100.0)
    assert model.nmesh == 0


def test_robot_mass_and_scene_objects():
    model = go2_model()
    robot_mass = model.body_subtreemass[model.body("base").id]
    assert robot_mass == pytest.approx(TOTAL_MASS, abs=0.01)
    assert robot_mass == pytest.approx(15.2, abs=0.05)
    cube = model.body("cube")
    assert model.jnt_type[cube.jntadr[0]] == mujoco.mjtJoint.mjJNT_FREE
    assert 0.1 <= model.body_mass[cube.id] <= 1.0
    goal = model.site("goal")  # a site: visual only, never collides
    assert goal.type[0] == mujoco.mjtGeom.mjGEOM_CYLINDER
    for leg in LEGS:
        foot = model.geom(f"{leg}_foot")
        assert foot.size[0] == pytest.approx(0.022)
        np.testing.assert_allclose(foot.friction, (0.8, 0.02, 0.01))
    for name in ("ego", "third_person"):
        assert model.camera(name).id >= 0


def test_options_marker_and_refusals():
    model = go2_model(offscreen_width=200, offscreen_height=100, foot_condim=6, timestep=0.001)
    assert (model.vis.global_.offwidth, model.vis.global_.offheight) == (200, 100)
    assert model.opt.timestep == pytest.approx(0.001)
    assert model.geom("FR_foot").condim[0] == 6
    assert model.body_mass[model.body("cube").id] == pytest.approx(CUBE_MASS)
    assert "marker" not in go2_mjcf()
    marked = go2_model(marker=(0.05, 0.6))
    post = marked.geom("marker")
    assert post.bodyid[0] == marked.body("goal").id
    np.testing.assert_allclose(post.size[:2], (0.05, 0.3))
    assert post.contype[0] == 0 and post.conaffinity[0] == 0  # nothing collides with it
    with pytest.raises(ValueError, match="foot_condim must be 1, 3, 4 or 6"):
        go2_mjcf(foot_condim=5)
    with pytest.raises(ValueError, match="marker .* must be positive"):
        go2_mjcf(marker=(0.05, 0.0))


def test_lookups_follow_names_and_refuse_unknown_ones():
    model = go2_model()
    names = tuple(reversed(JOINT_NAMES))
    qpos_adr, _ = joint_addresses(model, names)
    acts = actuator_ids(model, names)
    for i, name in enumerate(names):
        assert qpos_adr[i] == model.jnt_qposadr[model.joint(name).id]
        assert model.actuator(int(acts[i])).name == name
    with pytest.raises(KeyError, match="FR_knee_joint"):
        joint_addresses(model, ("FR_knee_joint",))
    with pytest.raises(KeyError, match="no actuator drives joint 'cube_free'"):
        actuator_ids(model, ("cube_free",))
