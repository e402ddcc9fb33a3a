#!/usr/bin/env escript
%%! +P 2000000 -noshell
%% The BEAM side of wardbench (bench/workload/beam.go runs it). Each figure
%% is printed as "key value" on its own line; "suite" prints one line per
%% key per repetition.
%%
%%   escript bench.escript suite SpawnN PingN MsgN Reps
%%   escript bench.escript parked N
-mode(compile).

main(["suite", SN, PN, MN, RN]) ->
    [S, P, M, R] = [list_to_integer(X) || X <- [SN, PN, MN, RN]],
    info(),
    %% warm-up: load and compile everything once
    _ = spawn_seq(1000), _ = spawn_par(1000), _ = ping_pong(1000), _ = one_to_one(1000),
    lists:foreach(fun(_) ->
        report("spawn_us", spawn_seq(S)),
        report("spawn_per_s", spawn_par(S)),
        report("pingpong_us", ping_pong(P)),
        report("throughput_msgs_per_s", one_to_one(M))
    end, lists:seq(1, R)),
    halt(0);
main(["parked", NN]) ->
    info(),
    parked(list_to_integer(NN)),
    halt(0);
main(_) ->
    io:format(standard_error, "usage: bench.escript suite SpawnN PingN MsgN Reps | parked N~n", []),
    halt(2).

info() ->
    io:format("otp ~s~nschedulers ~p~n",
              [erlang:system_info(otp_release), erlang:system_info(schedulers_online)]).

report(Key, Value) -> io:format("~s ~.6f~n", [Key, float(Value)]).

us() -> erlang:monotonic_time(nanosecond) / 1000.

%% Latency: spawn_monitor a trivial process, wait for its 'DOWN', repeat.
%% Microseconds per process.
spawn_seq(N) ->
    T0 = us(), seq(N), (us() - T0) / N.
seq(0) -> ok;
seq(K) -> {P, R} = spawn_monitor(fun() -> ok end),
          receive {'DOWN', R, process, P, _} -> seq(K-1) end.

%% Throughput: one worker per scheduler, each doing its share of spawn_seq.
%% Processes per second.
spawn_par(N) ->
    W = erlang:system_info(schedulers_online),
    Self = self(),
    T0 = us(),
    [spawn(fun() -> seq(N div W), Self ! done end) || _ <- lists:seq(1, W)],
    [receive done -> ok end || _ <- lists:seq(1, W)],
    (N div W) * W / ((us() - T0) / 1.0e6).

%% Round trip between two processes. Microseconds per round trip.
ping_pong(N) ->
    Pong = spawn(fun pong/0),
    T0 = us(),
    ping(N, Pong),
    D = us() - T0,
    Pong ! stop,
    D / N.
pong() -> receive {ping, From} -> From ! pong, pong(); stop -> ok end.
ping(0, _) -> ok;
ping(K, Pong) -> Pong ! {ping, self()}, receive pong -> ping(K-1, Pong) end.

%% One sender, one receiver, until the receiver has all N. Messages per
%% second.
one_to_one(N) ->
    Self = self(),
    T0 = us(),
    R = spawn(fun() -> recv(N), Self ! got_all end),
    spawn(fun() -> send(N, R) end),
    receive got_all -> ok end,
    N / ((us() - T0) / 1.0e6).
send(0, _) -> ok;
send(K, R) -> R ! {msg, K}, send(K-1, R).
recv(0) -> ok;
recv(K) -> receive {msg, _} -> recv(K-1) end.

%% N processes blocked in receive: the VM's RSS over the baseline per
%% process, and the VM's OS threads. Each process reports ready before it
%% blocks, so all N exist and have run when memory is read.
parked(N) ->
    Self = self(),
    erlang:garbage_collect(),
    {Rss0, _} = status(),
    T0 = us(),
    Pids = [spawn(fun() -> Self ! ready, receive stop -> ok end end) || _ <- lists:seq(1, N)],
    [receive ready -> ok end || _ <- lists:seq(1, N)],
    Secs = (us() - T0) / 1.0e6,
    erlang:garbage_collect(),
    {Rss1, Threads} = status(),
    report("parked_kib_per_proc", (Rss1 - Rss0) / N),
    report("parked_threads", Threads),
    report("parked_seconds", Secs),
    report("parked_count", length(Pids)).

%% VmRSS (KiB) and Threads of this OS process.
status() ->
    {ok, B} = file:read_file("/proc/self/status"),
    Lines = binary:split(B, <<"\n">>, [global]),
    Get = fun(Key) ->
        [V] = [V || L <- Lines, [K, V] <- [binary:split(L, <<":">>)], K =:= Key],
        [Num | _] = string:lexemes(binary_to_list(V), " \t"),
        list_to_integer(Num)
    end,
    {Get(<<"VmRSS">>), Get(<<"Threads">>)}.
