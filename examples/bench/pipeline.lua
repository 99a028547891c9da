-- TechEmpower's wrk script: every write carries DEPTH requests (wrk counts each response).
-- Usage: wrk ... -s examples/bench/pipeline.lua -- DEPTH. Used by http.sh, syscalls.sh and
-- the harness (src/tools.rs embeds this file).
init = function(args)
    local depth = tonumber(args[1]) or 1
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format()
    end
    req = table.concat(r)
end

request = function()
    return req
end
