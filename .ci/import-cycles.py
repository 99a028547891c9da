#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a cycle.

Usage: import-cycles.py SRC_DIR...  (each a crate's `src/`)

Every `use crate::a::b` or `crate::a::b` path in module `m` (test modules at a file's foot
excepted) is an edge from `m` to the module it names, resolved to the longest module path that
exists. Edges between a module and its own descendants do not count (a parent declares its
children; a child may use its parent's items). The graph is checked twice: between top-level
modules, and between modules two levels deep; any strongly connected component of more than one
module is reported with the edges that close it. Exit status 1 if any cycle is found.
"""
import os, re, sys

def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith('.rs'):
                continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel[-1] in ('lib', 'main'):
                rel = rel[:-1]
            if rel and rel[-1] == 'mod':
                rel = rel[:-1]
            mods['::'.join(rel)] = p
    return mods

USE = re.compile(r'\b(?:use|pub\s*(?:\([^)]*\))?\s*use)\s+crate::([\w:{}, \n*]+?);', re.S)
PATH = re.compile(r'crate::((?:\w+::)*\w+)')

def targets(text):
    out = set()
    for m in USE.finditer(text):
        body = m.group(1)
        # expand one level of braces: a::{b, c::d} -> a::b, a::c::d
        mm = re.match(r'([\w:]*?)::?\{(.*)\}$', body.strip(), re.S)
        if mm:
            prefix = mm.group(1)
            for part in re.split(r',(?![^{]*\})', mm.group(2)):
                part = part.strip()
                if not part:
                    continue
                part = re.sub(r'\{.*', '', part).strip(':')
                out.add((prefix + '::' + part) if prefix else part)
        else:
            out.add(body.strip())
    for m in PATH.finditer(text):
        out.add(m.group(1))
    return out

def resolve(path, mods):
    parts = [p for p in path.split('::') if p and p not in ('self', '*')]
    while parts:
        k = '::'.join(parts)
        if k in mods:
            return k
        parts.pop()
    return None

def strip_tests(text):
    # drop `#[cfg(test)] mod tests { ... }` blocks (test-only edges do not count)
    i = text.find('#[cfg(test)]\nmod tests')
    return text if i < 0 else text[:i]

def cycles(src, depth):
    mods = modules(src)
    def top(m):
        return '::'.join(m.split('::')[:depth]) if m else m
    edges = {}
    for m, p in mods.items():
        text = strip_tests(open(p, encoding='utf-8').read())
        for t in targets(text):
            r = resolve(t, mods)
            if r is None:
                continue
            a, b = top(m), top(r)
            if a != b and not b.startswith(a + '::') and not a.startswith(b + '::'):
                edges.setdefault(a, set()).add(b)
    # Tarjan SCC
    index, low, stack, on, out = {}, {}, [], set(), []
    n = [0]
    def sc(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                sc(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            sc(v)
    return out, edges

bad = 0
for src in sys.argv[1:]:
    for depth in (1, 2):
        found, edges = cycles(src, depth)
        for c in found:
            bad += 1
            print(f'{src}: import cycle (depth {depth}): ' + ' <-> '.join(c))
            for a in c:
                print('   ', a, '->', ', '.join(sorted(b for b in edges.get(a, ()) if b in c)))
sys.exit(1 if bad else 0)
