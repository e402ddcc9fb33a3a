//go:build wasip1

package guest

// The raw host functions, exactly as internal/abi.Funcs declares them:
// every //go:wasmimport in the SDK is in this file, and
// internal/abi/guestsdk_test.go checks each one's name and signature against
// the table (and that the table has no function missing here). Pointers and
// lengths are uint32 offsets into linear memory, never Go pointers, so the
// signatures map one to one onto i32 and i64; see addr.

//go:wasmimport ward_process self
func wardSelf() int64

//go:wasmimport ward_process exit
func wardExit(code int32)

//go:wasmimport ward_process spawn
func wardSpawn(entryPtr, entryLen, paramsPtr, paramsCount, idPtr uint32) int32

//go:wasmimport ward_process sleep_ms
func wardSleepMs(ms int64)

//go:wasmimport ward_process spawn_link
func wardSpawnLink(entryPtr, entryLen, paramsPtr, paramsCount, idPtr uint32) int32

//go:wasmimport ward_process link
func wardLink(pid uint64) int32

//go:wasmimport ward_process unlink
func wardUnlink(pid uint64)

//go:wasmimport ward_process trap_exit
func wardTrapExit(on int32)

//go:wasmimport ward_process monitor
func wardMonitor(pid uint64) uint64

//go:wasmimport ward_process demonitor
func wardDemonitor(ref uint64)

//go:wasmimport ward_process kill
func wardKill(pid uint64) int32

//go:wasmimport ward_process exists
func wardExists(pid uint64) int32

//go:wasmimport ward_process upgrade
func wardUpgrade(entryPtr, entryLen, statePtr, stateLen uint32) int32

//go:wasmimport ward_message create_data
func wardCreateData(tag int64)

//go:wasmimport ward_message write_data
func wardWriteData(ptr, length uint32) int32

//go:wasmimport ward_message read_data
func wardReadData(ptr, length uint32) int32

//go:wasmimport ward_message data_size
func wardDataSize() int64

//go:wasmimport ward_message get_tag
func wardGetTag() int64

//go:wasmimport ward_message sender
func wardSender() uint64

//go:wasmimport ward_message unique_tag
func wardUniqueTag() int64

//go:wasmimport ward_message send
func wardSend(pid uint64) int32

//go:wasmimport ward_message receive
func wardReceive(tagsPtr, tagsCount uint32, timeoutMs int64) int32

//go:wasmimport ward_message try_send
func wardTrySend(pid uint64) int32

//go:wasmimport ward_message try_receive
func wardTryReceive(tagsPtr, tagsCount uint32) int32

//go:wasmimport ward_message send_receive
func wardSendReceive(pid uint64, tagsPtr, tagsCount uint32, timeoutMs int64) int32

//go:wasmimport ward_message send_after
func wardSendAfter(pid uint64, delayMs int64) int64

//go:wasmimport ward_message cancel_timer
func wardCancelTimer(timer int64) int32

//go:wasmimport ward_registry register
func wardRegister(namePtr, nameLen, versionPtr, versionLen uint32) int32

//go:wasmimport ward_registry unregister
func wardUnregister(namePtr, nameLen, versionPtr, versionLen uint32) int32

//go:wasmimport ward_registry lookup
func wardLookup(namePtr, nameLen, constraintPtr, constraintLen, idPtr uint32) int32

//go:wasmimport ward_registry get_or_spawn
func wardGetOrSpawn(namePtr, nameLen, versionPtr, versionLen, entryPtr, entryLen, idPtr uint32) int32

//go:wasmimport ward_module load
func wardModuleLoad(ptr, length, handlePtr uint32) int32

//go:wasmimport ward_module spawn
func wardModuleSpawn(handle uint64, entryPtr, entryLen, paramsPtr, paramsCount uint32, env uint64, idPtr uint32) int32

//go:wasmimport ward_module drop
func wardModuleDrop(handle uint64) int32

//go:wasmimport ward_module take
func wardModuleTake(handle uint64) int32

//go:wasmimport ward_environment create
func wardEnvCreate(configPtr, configLen, envPtr uint32) int32

//go:wasmimport ward_environment drop
func wardEnvDrop(env uint64) int32

//go:wasmimport ward_metrics create
func wardMetricsCreate(kind, namePtr, nameLen, handlePtr uint32) int32

//go:wasmimport ward_metrics labels
func wardMetricsLabels(ptr, length, handlePtr uint32) int32

//go:wasmimport ward_metrics record
func wardMetricsRecord(instrument, labels uint32, value int64) int32

//go:wasmimport ward_sqlite step_row
func wardSQLiteStepRow(stmt int32, bufPtr, bufCap, lenPtr uint32) int32

//go:wasmimport ward_sqlite row
func wardSQLiteRow(stmt int32, bufPtr, bufCap, lenPtr uint32) int32

//go:wasmimport ward_metrics create_float
func wardMetricsCreateFloat(kind, namePtr, nameLen, handlePtr uint32) int32

//go:wasmimport ward_metrics record_float
func wardMetricsRecordFloat(instrument, labels uint32, bits int64) int32

//go:wasmimport ward_metrics drop
func wardMetricsDrop(instrument uint32) int32

//go:wasmimport ward_metrics drop_labels
func wardMetricsDropLabels(labels uint32) int32

//go:wasmimport ward_net resolve
func wardNetResolve(namePtr, nameLen, bufPtr, bufCap, countPtr uint32) int32

//go:wasmimport ward_net tcp_connect
func wardNetTCPConnect(hostPtr, hostLen uint32, port, timeoutMs int32, handlePtr uint32) int32

//go:wasmimport ward_net tcp_listen
func wardNetTCPListen(addrPtr, addrLen uint32, port int32, handlePtr uint32) int32

//go:wasmimport ward_net tcp_accept
func wardNetTCPAccept(listener, timeoutMs int32, handlePtr uint32) int32

//go:wasmimport ward_net local_port
func wardNetLocalPort(handle int32, portPtr uint32) int32

//go:wasmimport ward_net read
func wardNetRead(handle int32, bufPtr, bufLen uint32, timeoutMs int32, nPtr uint32) int32

//go:wasmimport ward_net write
func wardNetWrite(handle int32, bufPtr, bufLen uint32, timeoutMs int32, nPtr uint32) int32

//go:wasmimport ward_net close
func wardNetClose(handle int32) int32

//go:wasmimport ward_net udp_bind
func wardNetUDPBind(addrPtr, addrLen uint32, port int32, handlePtr uint32) int32

//go:wasmimport ward_net udp_send_to
func wardNetUDPSendTo(handle int32, hostPtr, hostLen uint32, port int32, bufPtr, bufLen uint32) int32

//go:wasmimport ward_net udp_recv_from
func wardNetUDPRecvFrom(handle int32, bufPtr, bufLen uint32, timeoutMs int32, fromPtr uint32) int32

//go:wasmimport ward_net tls_client
func wardNetTLSClient(handle int32, namePtr, nameLen uint32, timeoutMs int32) int32

//go:wasmimport ward_net tls_server
func wardNetTLSServer(handle, timeoutMs int32) int32

// ward_sqlite (hostapi/sqlite), linked when the embedder registers it.

//go:wasmimport ward_sqlite open
func wardSQLiteOpen(pathPtr, pathLen, dbPtr uint32) int32

//go:wasmimport ward_sqlite close
func wardSQLiteClose(db int32) int32

//go:wasmimport ward_sqlite exec
func wardSQLiteExec(db int32, sqlPtr, sqlLen uint32) int32

//go:wasmimport ward_sqlite prepare
func wardSQLitePrepare(db int32, sqlPtr, sqlLen, stmtPtr uint32) int32

//go:wasmimport ward_sqlite bind_int
func wardSQLiteBindInt(stmt, index int32, value int64) int32

//go:wasmimport ward_sqlite bind_float
func wardSQLiteBindFloat(stmt, index int32, bits int64) int32

//go:wasmimport ward_sqlite bind_text
func wardSQLiteBindText(stmt, index int32, ptr, length uint32) int32

//go:wasmimport ward_sqlite bind_blob
func wardSQLiteBindBlob(stmt, index int32, ptr, length uint32) int32

//go:wasmimport ward_sqlite bind_null
func wardSQLiteBindNull(stmt, index int32) int32

//go:wasmimport ward_sqlite step
func wardSQLiteStep(stmt int32, rowPtr uint32) int32

//go:wasmimport ward_sqlite column_count
func wardSQLiteColumnCount(stmt int32) int32

//go:wasmimport ward_sqlite column_type
func wardSQLiteColumnType(stmt, col int32) int32

//go:wasmimport ward_sqlite column_int
func wardSQLiteColumnInt(stmt, col int32) int64

//go:wasmimport ward_sqlite column_float
func wardSQLiteColumnFloat(stmt, col int32) int64

//go:wasmimport ward_sqlite column_bytes
func wardSQLiteColumnBytes(stmt, col int32, bufPtr, bufCap, lenPtr uint32) int32

//go:wasmimport ward_sqlite reset
func wardSQLiteReset(stmt int32) int32

//go:wasmimport ward_sqlite finalize
func wardSQLiteFinalize(stmt int32) int32

//go:wasmimport ward_sqlite errmsg
func wardSQLiteErrmsg(db int32, bufPtr, bufCap uint32) int32
