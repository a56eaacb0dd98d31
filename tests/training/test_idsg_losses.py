"""IDSG losses against hand-computed values on tiny inputs, plus float64 gradchecks."""

from __future__ import annotations

import math

import pytest
import torch

from training.idsg import losses as L


class TestAdversarial:
    def test_discriminator_at_zero_logits(self):
        value = L.discriminator_loss(torch.zeros(3, 1), torch.zeros(2, 1))
        assert value.item() == pytest.approx(2 * math.log(2))

    def test_generator_non_saturating(self):
        value = L.generator_adv_loss(torch.tensor([[0.0], [math.log(3)]]))
        assert value.item() == pytest.approx((math.log(2) + math.log(4 / 3)) / 2)


class TestRegionShape:
    def test_translation_removed_and_rms(self):
        gen = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [9.0, 9.0]]]) + 5.0
        src = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [-7.0, 3.0]]])
        weight = torch.tensor([[1.0, 1.0, 0.0]])  # the third point is hidden: ignored
        assert L.region_shape_distance(gen, src, weight).item() == pytest.approx(0.5)

    def test_fewer_than_two_visible_points_is_zero(self):
        gen, src = torch.rand(2, 4, 2), torch.rand(2, 4, 2)
        weight = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]])
        assert torch.equal(L.region_shape_distance(gen, src, weight), torch.zeros(2))

    def test_gradcheck(self):
        gen = torch.rand(2, 5, 2, dtype=torch.float64, requires_grad=True)
        src = torch.rand(2, 5, 2, dtype=torch.float64)
        weight = torch.tensor([[1.0, 1, 1, 0, 1], [1, 1, 1, 1, 1]], dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda g: L.region_shape_distance(g, src, weight), (gen,))


class TestVisibleLocalShape:
    margins = (0.05, 0.05, 0.1, 0.05, 0.2)

    def _mouth_moved(self, dx: float) -> tuple[torch.Tensor, torch.Tensor]:
        src = torch.zeros(1, 68, 3)
        gen = src.clone()
        gen[0, 48, 0] = dx  # one mouth corner moves: mouth region of 20 points
        return gen, src

    def test_hand_computed(self):
        gen, src = self._mouth_moved(0.4)
        # centroid 0.02; RMS of (0.38, 19 x -0.02) = sqrt((0.1444 + 19 * 0.0004) / 20) = 0.0871780
        expected = math.sqrt((0.38**2 + 19 * 0.02**2) / 20) - 0.05
        value = L.visible_local_shape_loss(gen, src, torch.ones(1, 68), self.margins)
        assert value.item() == pytest.approx(expected, rel=1e-5)

    def test_within_margin_is_free(self):
        gen, src = self._mouth_moved(0.2)  # RMS 0.0436 < 0.05
        assert L.visible_local_shape_loss(gen, src, torch.ones(1, 68), self.margins).item() == 0.0

    def test_hidden_points_do_not_count(self):
        gen, src = self._mouth_moved(0.4)
        vis = torch.ones(1, 68)
        vis[0, 48] = 0.2
        assert L.visible_local_shape_loss(gen, src, vis, self.margins).item() == pytest.approx(0.0, abs=1e-6)

    def test_translation_of_a_region_is_free(self):
        src = torch.rand(3, 68, 3)
        gen = src.clone()
        gen[:, 36:42, :2] += torch.tensor([0.3, -0.1])
        assert L.visible_local_shape_loss(gen, src, torch.ones(3, 68), self.margins).item() == pytest.approx(
            0, abs=1e-5
        )


class TestOthers:
    def test_action_is_l1_and_driver_code_is_fixed(self):
        gen = torch.tensor([[1.0, 2.0]], requires_grad=True)
        drv = torch.tensor([[0.0, 4.0]], requires_grad=True)
        value = L.action_loss(gen, drv)
        assert value.item() == pytest.approx(1.5)
        value.backward()
        assert drv.grad is None and torch.allclose(gen.grad, torch.tensor([[0.5, -0.5]]))

    def test_class_uniform_logits(self):
        assert L.class_loss(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])).item() == pytest.approx(math.log(3))

    def test_localization_on_self_rows_only(self):
        gen = torch.stack([torch.ones(68, 3), torch.full((68, 3), 5.0)])
        value = L.localization_loss(gen, torch.zeros(2, 68, 3), torch.tensor([True, False]))
        assert value.item() == pytest.approx(1.0)
        assert L.localization_loss(gen, gen, torch.tensor([False, False])).item() == 0.0


class TestCollapseFixes:
    """What keeps the IDSG from drawing the source video's mean face whatever the driver does."""

    def test_pose_free_shape_ignores_pose_scale_and_position(self, astronaut_face):
        from streamer.retarget_idsg import turned

        pts = astronaut_face.points.astype("float64")
        moved = 1.7 * turned(pts, 25.0) + (30.0, -12.0, 4.0)
        shapes = L.pose_free_shape(torch.tensor([pts, moved]))
        torch.testing.assert_close(shapes[0], shapes[1], atol=1e-4, rtol=0)
        assert shapes[0].pow(2).sum(dim=-1).mean().item() == pytest.approx(1.0, abs=1e-5)

    def test_residual_generator_starts_from_the_driver(self):
        from streamer.models.idsg import FLAT, IDSGConfig, IDSGGenerator

        gen = IDSGGenerator(IDSGConfig(residual=True))  # fresh: a short run cannot tear the face
        driver = torch.randn(3, FLAT)
        torch.testing.assert_close(gen(driver, torch.randn(3, FLAT)), driver)

    def test_action_loss_reaches_the_output_not_the_encoder(self, synthetic_dataset):
        from training.config import load_config
        from training.dataset import LandmarkDataset
        from training.distributed import DistInfo
        from training.idsg.task import IDSGTask

        small = ["model.hidden=32", "model.action_dim=8", "model.identity_dim=8", "model.identity_hidden=16"]
        task = IDSGTask(
            load_config("idsg", small), LandmarkDataset(synthetic_dataset), DistInfo(0, 1, 0, torch.device("cpu"))
        )
        fake = torch.randn(4, 204, requires_grad=True)
        L.action_loss(task._action_code(fake), torch.zeros(4, 8)).backward()
        assert fake.grad is not None and fake.grad.abs().sum() > 0
        assert all(p.grad is None for p in task.gen.encoder.parameters())
