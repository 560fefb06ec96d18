// The emulator's /v2/network-volumes answers as the v2 spec defines: shapes, statuses, problem+json.
import * as assert from "node:assert/strict";
import { emulatorApi } from "./emulatorApi";
import { RunPodEmulator } from "./runpod";

describe("RunPod v2 emulator: network volumes", function () {
  this.timeout(10000);
  let emulator: RunPodEmulator;
  before(async () => {
    emulator = await RunPodEmulator.start({ timings: { provisionMs: 20, startMs: 20 } });
  });
  after(() => emulator.close());

  const api = emulatorApi(() => emulator);


  it("creates (201), lists, gets, grows, refuses to shrink (400) and deletes (204, then 404)", async () => {
    const created = await api("POST", "/network-volumes", { name: "models", size: 50, dataCenter: "EU-RO-1" });
    assert.equal(created.status, 201);
    const id = String(created.json.id);
    assert.deepEqual(created.json, { id, name: "models", size: 50, dataCenter: "EU-RO-1", type: "STANDARD" });
    const listed = await api("GET", "/network-volumes");
    assert.ok((listed.json.networkVolumes as Array<{ id: string }>).some((v) => v.id === id));
    assert.equal((await api("GET", `/network-volumes/${id}`)).json.size, 50);
    assert.equal((await api("PATCH", `/network-volumes/${id}`, { size: 80 })).json.size, 80);
    const shrink = await api("PATCH", `/network-volumes/${id}`, { size: 60 });
    assert.equal(shrink.status, 400);
    assert.match(shrink.type, /^application\/problem\+json/);
    assert.deepEqual(Object.keys(shrink.json).sort(), ["detail", "status", "title"]);
    assert.equal((await api("DELETE", `/network-volumes/${id}`)).status, 204);
    const gone = await api("GET", `/network-volumes/${id}`);
    assert.deepEqual(gone.json, { title: "Not Found", status: 404, detail: "network volume not found" });
  });

  it("rejects bodies against the schema with 422 and every violation listed", async () => {
    const bad = await api("POST", "/network-volumes", { size: 5, dataCenterId: "EU-RO-1" });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.json.errors, [
      "$: missing properties 'name', 'dataCenter'",
      "$: additional properties 'dataCenterId' not allowed",
      "$.size: must be >= 10 but found 5",
    ]);
    const empty = await api("POST", "/network-volumes", { name: "x", size: 10, dataCenter: "EU-RO-1" });
    const emptyPatch = await api("PATCH", `/network-volumes/${String(empty.json.id)}`, {});
    assert.equal(emptyPatch.status, 422, "an empty update is rejected (minProperties 1)");
  });

  it("places a pod that mounts a volume in the volume's data centre, and refuses to delete a mounted volume", async () => {
    const vol = await api("POST", "/network-volumes", { name: "m", size: 20, dataCenter: "US-TX-3" });
    const volumeId = String(vol.json.id);
    const pod = { name: "p", image: "img", gpu: { id: "NVIDIA L40S" }, ports: ["8188/http"], mounts: { network: [{ volumeId, path: "/workspace" }] } };
    const placed = await api("POST", "/pods", pod);
    assert.equal(placed.status, 201);
    assert.equal(placed.json.dataCenterId, "US-TX-3");
    const elsewhere = await api("POST", "/pods", { ...pod, dataCenterIds: ["EU-RO-1"] });
    assert.equal(elsewhere.status, 400);
    const unknown = await api("POST", "/pods", { ...pod, mounts: { network: [{ volumeId: "nosuchvol1", path: "/w" }] } });
    assert.equal(unknown.status, 404);
    assert.equal((await api("DELETE", `/network-volumes/${volumeId}`)).status, 400);
    assert.equal((await api("DELETE", `/pods/${String(placed.json.id)}`)).status, 204);
    assert.equal((await api("DELETE", `/network-volumes/${volumeId}`)).status, 204);
  });
});
