import { describe, expect, it } from "vitest";
import { BoundedMap } from "./bounded-map.js";

describe("BoundedMap", () => {
  it("keeps at most its capacity, dropping the oldest writes first", () => {
    const map = new BoundedMap<string, number>(4);
    const odd = new BoundedMap<string, number>(5);
    for (let i = 0; i < 100; i++) {
      map.set(`k${i}`, i);
      odd.set(`k${i}`, i);
      expect(map.size).toBeLessThanOrEqual(4);
      expect(odd.size).toBeLessThanOrEqual(5);
    }
    expect(map.get("k99")).toBe(99);
    expect(map.get("k98")).toBe(98);
    expect(map.get("k0")).toBeUndefined();
  });

  it("keeps an entry that is read while others are written", () => {
    const map = new BoundedMap<string, number>(4);
    map.set("hot", 1);
    for (let i = 0; i < 50; i++) {
      map.set(`cold${i}`, i);
      expect(map.get("hot")).toBe(1);
    }
  });

  it("overwrites, deletes from either generation, and clears", () => {
    const map = new BoundedMap<string, number>(4);
    map.set("a", 1).set("b", 2).set("c", 3);
    map.set("a", 10);
    expect(map.get("a")).toBe(10);
    expect(map.size).toBe(3);
    expect(map.delete("b")).toBe(true);
    expect(map.delete("b")).toBe(false);
    expect(map.get("b")).toBeUndefined();
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get("a")).toBeUndefined();
  });

  it("holds one entry at capacity 1", () => {
    const map = new BoundedMap<string, number>(1);
    map.set("a", 1);
    map.set("b", 2);
    expect(map.get("b")).toBe(2);
    expect(map.size).toBeLessThanOrEqual(2);
  });
});
