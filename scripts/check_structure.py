"""Structure check: non-test functions over 100 lines and import cycles between files.

Run from the repository root: `python3 scripts/check_structure.py [PREFIX]`. An edge A -> B is
any `crate::..`, `super::..` or `self::..` path in A's non-test text (doc links included) that
names B's module; with --strict also a parent file's use of a child module it declares
(`mod x;` then `x::..`), which makes a child's `super::Item` from its parent a cycle.
With PREFIX (e.g. src/tui) only functions and cycles in files under it are reported. Exits 1
when it reports anything.
"""
import re,os,sys,collections
strict='--strict' in sys.argv
args=[a for a in sys.argv[1:] if a!='--strict']
scope=args[0] if args else 'src'
root='src'
files=[]
for d,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'): files.append(os.path.join(d,f))
def modpath(p):
    rel=p[len(root)+1:-3]
    parts=rel.split('/')
    if parts[-1] in('mod','lib','main'): parts=parts[:-1]
    return 'crate'+''.join('::'+x for x in parts)
mods={modpath(p):p for p in files}
# long functions
long=[]
for p in files:
    if '/tests' in p or p.endswith('tests.rs') or 'snapshots' in p: continue
    lines=open(p).read().split('\n')
    i=0
    intest=False
    while i<len(lines):
        l=lines[i]
        if re.match(r'\s*#\[cfg\(test\)\]',l): intest=True
        m=re.match(r'^(\s*)(pub(\([^)]*\))? )?(const )?(async )?(unsafe )?fn (\w+)',l)
        if m and not intest:
            ind=len(m.group(1));name=m.group(7)
            # find end: line starting with same indent and '}'
            j=i+1
            if l.rstrip().endswith(';'): i+=1;continue
            while j<len(lines) and not (lines[j].startswith(' '*ind+'}') and len(lines[j])-len(lines[j].lstrip())==ind):
                j+=1
            n=j-i+1
            if n>100: long.append((n,p,name))
        i+=1
long=[l for l in long if l[1].startswith(scope)]
print('LONG',sorted(long,reverse=True))
# import graph at file level
edges=collections.defaultdict(set)
for p in files:
    src=open(p).read()
    src=re.split(r'#\[cfg\(test\)\]\s*mod tests',src)[0]
    me=modpath(p)
    for m in re.finditer(r'(?:crate|super)(?:::\w+)+',src):
        s=m.group(0)
        if s.startswith('super'):
            base=me.rsplit('::',1)[0] if not p.endswith('mod.rs') else me.rsplit('::',1)[0]
            # super relative to module
            parent=me.rsplit('::',1)[0]
            s=parent+s[5:]
        parts=s.split('::')
        # longest prefix that's a module
        best=None
        for k in range(len(parts),0,-1):
            c='::'.join(parts[:k])
            if c in mods: best=c;break
        if best and best!=me and best!='crate': edges[me].add(best)
    # use super::{a,b}
    # a child module used by the file that declares it: `mod x;` then `x::..`
    for m in re.finditer(r'^\s*(?:pub(?:\([^)]*\))? )?mod (\w+);',src,re.M):
        child=me+'::'+m.group(1)
        if strict and child in mods and re.search(r'(?<![\w:])(?:self::)?'+m.group(1)+r'::',src):
            edges[me].add(child)
    for m in re.finditer(r'use (crate|super)::\{([^;]*)\};',src,re.S):
        base='crate' if m.group(1)=='crate' else me.rsplit('::',1)[0]
        for item in re.findall(r'(\w+)(?=\s*(?:::|,|\}|$))',m.group(2)):
            c=base+'::'+item
            if c in mods and c!=me: edges[me].add(c)
# cycles: SCCs
sys.setrecursionlimit(10000)
idx={};low={};st=[];on=set();sccs=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: sccs.append(comp)
for v in list(mods):
    if v not in idx: sc(v)
def inscope(m):
    return mods[m].startswith(scope)
sccs=[c for c in sccs if any(inscope(m) for m in c)]
for s in sccs: print('CYCLE',sorted(s))
sys.exit(1 if long or sccs else 0)
