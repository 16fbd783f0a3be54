-- wrk script: every write carries DEPTH requests (default 16), pipelined on one connection.
-- Usage: wrk -s pipeline.lua URL -- 16
init = function(args)
    local depth = tonumber(args[1]) or 16
    local batch = {}
    for i = 1, depth do
        batch[i] = wrk.format(nil, wrk.path)
    end
    pipelined = table.concat(batch)
end

request = function()
    return pipelined
end
