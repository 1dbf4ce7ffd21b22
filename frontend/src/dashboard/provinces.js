// Province shapes from es-atlas (TopoJSON bundled into the page) and the
// list of the 52 provinces. es-atlas ids are the 2-digit INE codes as strings;
// anything else in the file (Gibraltar, id "54") is not a province.
import topology from "es-atlas/es/provinces.json";
import { feature } from "topojson-client";

export const PROVINCE_CODES = Array.from({ length: 52 }, (_, i) => String(i + 1).padStart(2, "0"));
const CODE_SET = new Set(PROVINCE_CODES);

export function isProvinceCode(code) {
  return typeof code === "string" && CODE_SET.has(code);
}

// GeoJSON features of the 52 provinces, each with `id` = INE code.
export function provinceFeatures() {
  const collection = feature(topology, topology.objects.provinces);
  return collection.features
    .map((f) => ({ ...f, id: String(f.id).padStart(2, "0") }))
    .filter((f) => CODE_SET.has(f.id));
}

// Names from the atlas, used until the server's snapshot brings the official ones.
export function atlasNames(features) {
  const names = new Map();
  for (const f of features) names.set(f.id, (f.properties && f.properties.name) || f.id);
  return names;
}
